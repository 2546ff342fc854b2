package keys

import (
	"errors"
	"testing"
)

func TestParseAlgorithm(t *testing.T) {
	tests := []struct {
		in      string
		want    Algorithm
		wantErr bool
	}{
		{"", RSA2048, false},
		{"rsa2048", RSA2048, false},
		{"RSA3072", RSA3072, false},
		{"rsa4096", RSA4096, false},
		{" ed25519 ", Ed25519, false},
		{"Ed25519", Ed25519, false},
		{"rsa", "", true},
		{"rsa1024", "", true},
		{"dsa", "", true},
	}
	for _, tt := range tests {
		got, err := ParseAlgorithm(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseAlgorithm(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseAlgorithm(%q) error %v is not ErrInvalid", tt.in, err)
		}
	}
}

func TestKeyType(t *testing.T) {
	for alg, want := range map[Algorithm]string{RSA2048: "rsa", RSA3072: "rsa", RSA4096: "rsa", Ed25519: "ed25519"} {
		if got := alg.KeyType(); got != want {
			t.Errorf("%s.KeyType() = %q, want %q", alg, got, want)
		}
	}
}
