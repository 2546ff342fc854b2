package config

import (
	"net/netip"
	"strings"
	"testing"
)

func TestLimitsDefaults(t *testing.T) {
	c, err := Parse("/x/dkimrelay.toml", []byte("hostname = \"mail.example.org\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	if got := c.Submission.TrustedNetworks; len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("trusted networks by default: %v, want %v", got, want)
	}
}

func TestLimitsParse(t *testing.T) {
	base := "hostname = \"mail.example.org\"\n[submission]\n"
	cases := []struct {
		name, text string
		want       string // "" for no error
	}{
		{"trusted networks", "trusted_networks = [\"172.17.0.0/16\", \"192.0.2.5/32\", \"fd00::1/64\"]\n", ""},
		{"no trusted networks", "trusted_networks = []\n", ""},
		{"bad trusted network", "trusted_networks = [\"docker\"]\n", "trusted_networks"},
		{"insecure auth on loopback", "allow_insecure_auth = true\nlisten = [\"127.0.0.1:587\", \"[::1]:587\", \"localhost:2525\"]\n", ""},
		{"insecure auth on all interfaces", "allow_insecure_auth = true\nlisten = [\"127.0.0.1:587\", \"0.0.0.0:2525\"]\n", "listener 0.0.0.0:2525 is not on loopback"},
		{"insecure auth on an empty host", "allow_insecure_auth = true\nlisten = [\":587\"]\n", "listener :587 is not on loopback"},
		{"insecure auth on a LAN address", "allow_insecure_auth = true\nlisten = [\"192.168.1.4:587\"]\n", "listener 192.168.1.4:587"},
		{"insecure auth off on all interfaces", "listen = [\"0.0.0.0:587\"]\n", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("/x/dkimrelay.toml", []byte(base+tc.text))
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one naming %q", err, tc.want)
			}
		})
	}
	c, err := Parse("/x/dkimrelay.toml", []byte(base+"trusted_networks = [\"192.0.2.5/32\", \"10.1.2.3/8\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Submission.TrustedNetworks; len(got) != 2 || got[0].String() != "192.0.2.5/32" || got[1].String() != "10.0.0.0/8" {
		t.Errorf("parsed trusted networks: %v", got)
	}
}
