// Package basicauth guards an HTTP handler with HTTP basic authentication
// (RFC 7617) against one password, compared in constant time.
package basicauth

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"slices"
)

// Guard serves next to requests that give password (with any user name),
// and answers 401 to the others, except on the paths in open, which
// need none (a health check's).
func Guard(next http.Handler, password, realm string, open ...string) http.Handler {
	want := sha256.Sum256([]byte(password))
	challenge := `Basic realm="` + realm + `", charset="UTF-8"`
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if slices.Contains(open, r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		_, pw, ok := r.BasicAuth()
		// Hashing first makes the comparison's time independent of the
		// length of the password given, too.
		got := sha256.Sum256([]byte(pw))
		if !ok || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", challenge)
			http.Error(w, "401 unauthorized: give the password of metrics.password_file (any user name)", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}
