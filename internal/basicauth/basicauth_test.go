package basicauth

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestGuard(t *testing.T) {
	h := Guard(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("inside")) }),
		"s3cret pass", "dkimrelay", "/healthz")
	tests := []struct {
		name, path string
		user, pass string
		auth       bool
		want       int
	}{
		{"no credentials", "/", "", "", false, http.StatusUnauthorized},
		{"wrong password", "/metrics", "admin", "s3cret", true, http.StatusUnauthorized},
		{"longer password", "/", "admin", "s3cret pass!", true, http.StatusUnauthorized},
		{"empty password", "/", "admin", "", true, http.StatusUnauthorized},
		{"right password", "/", "admin", "s3cret pass", true, http.StatusOK},
		{"any user name", "/metrics", "prometheus", "s3cret pass", true, http.StatusOK},
		{"open path", "/healthz", "", "", false, http.StatusOK},
		{"open path is exact", "/healthz/x", "", "", false, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", tt.path, nil)
			if tt.auth {
				req.SetBasicAuth(tt.user, tt.pass)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Fatalf("status %d, want %d", rec.Code, tt.want)
			}
			if tt.want == http.StatusUnauthorized {
				if c := rec.Header().Get("WWW-Authenticate"); !strings.HasPrefix(c, `Basic realm="dkimrelay"`) {
					t.Errorf("challenge %q", c)
				}
				if strings.Contains(rec.Body.String(), "inside") || strings.Contains(rec.Body.String(), "s3cret") {
					t.Errorf("body %q", rec.Body.String())
				}
			}
		})
	}
}
