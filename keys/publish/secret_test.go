package publish

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadSecret(t *testing.T) {
	const secret = "zgqp8I7DPTTb8mLBbfDlpXuR2Md0HEVKC3G2qDLeyhs="
	cases := []struct {
		name, text string
		mode       os.FileMode
		want       string // the secret, or a phrase of the error
		ok         bool
	}{
		{"bare secret", secret + "\n", 0o600, secret, true},
		{"bare secret, read-only", secret, 0o400, secret, true},
		{"tsig-keygen (BIND)", "key \"dkimrelay\" {\n\talgorithm hmac-sha256;\n\tsecret \"" + secret + "\";\n};\n", 0o600, secret, true},
		{"keymgr -t (Knot)", "# hmac-sha256:dkimrelay:" + secret + "\nkey:\n  - id: dkimrelay\n    algorithm: hmac-sha256\n    secret: " + secret + "\n", 0o600, secret, true},
		{"readable by the group", secret, 0o640, "chmod 600", false},
		{"readable by all", secret, 0o644, "mode 0644", false},
		{"empty", "\n", 0o600, "is empty", false},
		{"not base64", "hunter2 hunter2\n", 0o600, "holds no base64 secret", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "tsig.key")
			if err := os.WriteFile(p, []byte(tc.text), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, tc.mode); err != nil {
				t.Fatal(err)
			}
			got, err := ReadSecret(p)
			if tc.ok {
				if err != nil || got != tc.want {
					t.Errorf("ReadSecret = %q, %v; want %q", got, err, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("ReadSecret = %q, want an error", got)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
				t.Errorf("error %q should name the file and say %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), secret) {
				t.Errorf("error %q shows the file's content", err)
			}
		})
	}
	if _, err := ReadSecret(filepath.Join(t.TempDir(), "none")); err == nil || !strings.Contains(err.Error(), "tsig_secret_file") {
		t.Errorf("missing file: %v", err)
	}
}

func TestSplitString(t *testing.T) {
	for _, n := range []int{0, 1, 255, 256, 510, 511, 800} {
		s := strings.Repeat("x", n)
		parts := splitString(s)
		if strings.Join(parts, "") != s {
			t.Errorf("%d bytes: parts do not join back", n)
		}
		for _, p := range parts {
			if len(p) > 255 {
				t.Errorf("%d bytes: a part of %d", n, len(p))
			}
		}
		if want := max(1, (n+254)/255); len(parts) != want {
			t.Errorf("%d bytes: %d parts, want %d", n, len(parts), want)
		}
	}
}
