package keys

import "errors"

var (
	// ErrNotFound means the domain has no key with that selector.
	ErrNotFound = errors.New("key not found")
	// ErrExists means the selector is already in use for the domain.
	ErrExists = errors.New("key already exists")
	// ErrState means the operation is not allowed in the key's current state.
	ErrState = errors.New("operation not allowed in this key state")
	// ErrInvalid means a domain, selector, algorithm or duration is malformed:
	// the caller's input is wrong, not the store.
	ErrInvalid = errors.New("invalid argument")
	// ErrDamaged means a key file exists but cannot be used; the error is a
	// *DamageError that says which file and how to fix it.
	ErrDamaged = errors.New("damaged key file")
)

// keyError is an error whose text is one sentence for the administrator and
// whose kind is one of the sentinel errors above, for errors.Is.
type keyError struct {
	kind error
	msg  string
}

func (e *keyError) Error() string { return e.msg }
func (e *keyError) Unwrap() error { return e.kind }

// DamageError reports a key file the store cannot use. The relay keeps
// signing with the sound keys and logs these.
type DamageError struct {
	Domain, Selector string
	// Path is the file at fault, as found under the store folder.
	Path string
	// Problem says what is wrong, e.g. "is not valid PEM".
	Problem string
	// Fix says what the administrator should do about it.
	Fix string
	// Err is the underlying cause, if any.
	Err error
}

func (e *DamageError) Error() string {
	return e.Path + " " + e.Problem + ": " + e.Fix
}

// Unwrap returns the underlying cause.
func (e *DamageError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrDamaged) true for every DamageError.
func (e *DamageError) Is(target error) bool { return target == ErrDamaged }
