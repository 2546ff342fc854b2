package users

import "fmt"

// Class is a login's traffic class: how the relay weighs its mail against
// other mail when it paces deliveries (docs/deliverability.md).
type Class string

// The traffic classes.
const (
	// Transactional mail (sign-up confirmations, password resets,
	// notifications) is delivered first. It is the default.
	Transactional Class = "transactional"
	// Bulk mail (announcements, terms-of-service notices to every user;
	// Mastodon's BULK_SMTP_* login) waits for free delivery slots and is
	// paced within delivery.bulk_rate per provider.
	Bulk Class = "bulk"
)

// ParseClass reads a class name; "" is Transactional.
func ParseClass(s string) (Class, error) {
	switch Class(s) {
	case "", Transactional:
		return Transactional, nil
	case Bulk:
		return Bulk, nil
	}
	return "", fmt.Errorf("unknown traffic class %q: use transactional or bulk", s)
}

// TrafficClass returns the login's class, Transactional when none is set.
func (u *User) TrafficClass() Class {
	if u.Class == "" {
		return Transactional
	}
	return u.Class
}

// SetClass sets a login's traffic class.
func (db *DB) SetClass(name string, c Class) error {
	u, ok := db.byName[name]
	if !ok {
		return fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	if _, err := ParseClass(string(c)); err != nil {
		return err
	}
	if c == Transactional {
		c = "" // the default is not written
	}
	u.Class = c
	return nil
}
