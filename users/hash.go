package users

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Argon2id parameters: the OWASP password storage recommendation (19 MiB,
// two passes, one lane), which keeps an AUTH well under 100 ms on a small
// server while making offline guessing costly. They are stored in each
// hash, so they can be raised later without invalidating old hashes.
const (
	argonMemory  = 19 * 1024
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16
	// MinPasswordLength is the shortest password accepted for a login.
	MinPasswordLength = 12
)

// argonSlots bounds the argon2id computations running at once. Each holds
// its argonMemory (19 MiB) while it runs, so 64 connections logging in
// together would need 1.2 GB; the work is CPU-bound, so running more of
// them than there are cores finishes none sooner.
var argonSlots = make(chan struct{}, runtime.GOMAXPROCS(0))

// dummyHash is verified against when the login is unknown.
var dummyHash = "$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

// Hash makes a PHC-format argon2id hash of password.
func Hash(password string) (string, error) {
	if len(password) < MinPasswordLength {
		return "", fmt.Errorf("the password is shorter than %d characters: choose a longer one or use --generate", MinPasswordLength)
	}
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads, enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

type argonParams struct {
	memory  uint32
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
}

// parseHash validates a stored hash; bcrypt hashes return nil params.
func parseHash(h string) (*argonParams, error) {
	if strings.HasPrefix(h, "$2a$") || strings.HasPrefix(h, "$2b$") || strings.HasPrefix(h, "$2y$") {
		if _, err := bcrypt.Cost([]byte(h)); err != nil {
			return nil, fmt.Errorf("bad bcrypt hash: %w", err)
		}
		return nil, nil
	}
	parts := strings.Split(h, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return nil, errors.New("password hash is neither argon2id nor bcrypt")
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return nil, errors.New("unsupported argon2id version")
	}
	var p argonParams
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.memory, &p.time, &p.threads); err != nil {
		return nil, errors.New("bad argon2id parameters")
	}
	if p.memory == 0 || p.memory > 1<<22 || p.time == 0 || p.time > 64 || p.threads == 0 {
		return nil, errors.New("argon2id parameters out of range")
	}
	var err error
	if p.salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil {
		return nil, errors.New("bad argon2id salt")
	}
	if p.key, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil || len(p.key) < 16 {
		return nil, errors.New("bad argon2id key")
	}
	return &p, nil
}

func verify(hash, password string) bool {
	p, err := parseHash(hash)
	if err != nil {
		return false
	}
	if p == nil {
		return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
	}
	argonSlots <- struct{}{}
	key := argon2.IDKey([]byte(password), p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
	<-argonSlots
	return subtle.ConstantTimeCompare(key, p.key) == 1
}

// Generate returns a random password of 24 characters (about 143 bits).
func Generate() string {
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
