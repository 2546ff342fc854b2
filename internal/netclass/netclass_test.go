package netclass

import (
	"net/netip"
	"testing"
)

func TestInternal(t *testing.T) {
	cases := []struct {
		addr string
		want bool
	}{
		{"127.0.0.1", true},
		{"127.3.4.5", true},
		{"::1", true},
		{"::ffff:127.0.0.1", true},
		{"10.1.2.3", true},
		{"172.16.0.1", true},
		{"172.31.255.255", true},
		{"192.168.1.1", true},
		{"169.254.169.254", true}, // cloud metadata services
		{"fe80::1", true},
		{"fd00::25", true},
		{"0.0.0.0", true},
		{"0.1.2.3", true},
		{"::", true},
		{"100.64.0.1", true},
		{"224.0.0.1", true},
		{"255.255.255.255", true},
		{"ff02::1", true},
		{"192.0.2.1", false}, // documentation ranges are not special here: tests use them as remote hosts
		{"8.8.8.8", false},
		{"172.32.0.1", false},
		{"100.128.0.1", false},
		{"2001:db8::1", false},
		{"2a00:1450:4001::1a", false},
		{"::ffff:8.8.8.8", false},
	}
	for _, c := range cases {
		if got := Internal(netip.MustParseAddr(c.addr)); got != c.want {
			t.Errorf("Internal(%s) = %v, want %v", c.addr, got, c.want)
		}
	}
	if !Internal(netip.Addr{}) {
		t.Error("the zero Addr is not internal")
	}
}
