package publish

import (
	"dkimrelay/internal/secretfile"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// secretLine finds the secret in the key files the usual tools write:
// BIND's tsig-keygen (`secret "BASE64";`) and Knot's `keymgr -t`
// (`secret: BASE64`).
var secretLine = regexp.MustCompile(`(?m)^\s*secret\s*(?::\s*|\s+)"?([A-Za-z0-9+/]+={0,2})"?\s*;?\s*$`)

// ReadSecret reads a TSIG secret from path: either the base64 secret alone,
// or a key file as written by tsig-keygen (BIND) or keymgr -t (Knot). A
// file that others may read or write is refused, as ssh refuses such
// private keys: anyone holding the secret can rewrite the zone.
func ReadSecret(path string) (string, error) {
	b, err := secretfile.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("the TSIG secret file %s does not exist: write the base64 secret into it (mode 0600) or fix keys.publish.tsig_secret_file", path)
	}
	if secretfile.IsPermission(err) {
		return "", fmt.Errorf("the TSIG secret file %w", err)
	}
	if err != nil {
		return "", fmt.Errorf("reading the TSIG secret file: %w", err)
	}
	secret := strings.TrimSpace(string(b))
	if m := secretLine.FindStringSubmatch(secret); m != nil {
		secret = m[1]
	}
	if secret == "" {
		return "", fmt.Errorf("the TSIG secret file %s is empty: write the base64 secret into it", path)
	}
	raw, err := base64.StdEncoding.DecodeString(secret)
	if err != nil || len(raw) == 0 {
		// The error must not quote the file: it may hold a mistyped secret.
		return "", fmt.Errorf("the TSIG secret file %s holds no base64 secret: write the secret alone, or a key file from tsig-keygen or keymgr -t", path)
	}
	return secret, nil
}
