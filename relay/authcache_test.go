package relay

import (
	"strings"
	"testing"

	"dkimrelay/internal/testkit"
	"dkimrelay/resolver/dnstest"
)

// A login that proved its password logs in again from the verified-login
// cache (users.Cache), as Mastodon does for every message; a wrong
// password is still refused; auth_cache_ttl = "0s" verifies every time.
func TestAuthCache(t *testing.T) {
	for _, tc := range []struct {
		name, extra string
		wantCached  []bool
	}{
		{"default", "", []bool{false, true, true}},
		{"off", `auth_cache_ttl = "0s"`, []bool{false, false, false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := dnstest.NewServer(t)
			srv.AddZone(policyZone)
			addr, logs := startRelayWith(t, srv, "off", tc.extra)
			for i := range tc.wantCached {
				s, _ := testkit.ConnectRaw(t, addr, false)
				s.Cmd("EHLO test")
				if i == 1 {
					if r := s.Cmd(testkit.PlainAuth("", "app", testkit.Password+"x")).String(); !strings.HasPrefix(r, "535 5.7.8") {
						t.Fatalf("wrong password: %q", r)
					}
				}
				if r := s.Cmd(testkit.PlainAuth("", "app", testkit.Password)).String(); !strings.HasPrefix(r, "235") {
					t.Fatalf("login %d: %q", i+1, r)
				}
				s.Cmd("QUIT")
			}
			var got []bool
			for _, ev := range logs.Events("auth") {
				if ev["result"] == "failed" {
					if ev["cached"] != nil {
						t.Errorf("a failed AUTH logged as cached: %v", ev)
					}
					continue
				}
				got = append(got, ev["cached"] == true)
			}
			if len(got) != len(tc.wantCached) {
				t.Fatalf("successful auth events: %v", got)
			}
			for i := range got {
				if got[i] != tc.wantCached[i] {
					t.Fatalf("cached per login: %v; want %v", got, tc.wantCached)
				}
			}
		})
	}
}
