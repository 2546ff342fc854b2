package dnscheck

import (
	"net"
	"testing"
)

func TestRepairSPF(t *testing.T) {
	v4, v6 := net.ParseIP("192.0.2.10"), net.ParseIP("2001:db8::10")
	for _, c := range []struct {
		record string
		add    []net.IP
		want   string
	}{
		{"", []net.IP{v4, v6}, "v=spf1 ip4:192.0.2.10 ip6:2001:db8::10 -all"},
		{"v=spf1 mx -all", []net.IP{v4}, "v=spf1 mx ip4:192.0.2.10 -all"},
		{"v=spf1 mx ~all", []net.IP{v6}, "v=spf1 mx ip6:2001:db8::10 ~all"},
		{"v=spf1 a redirect=_spf.example.net", []net.IP{v4}, "v=spf1 a ip4:192.0.2.10 redirect=_spf.example.net"},
		{"v=spf1 include:_spf.example.net", []net.IP{v4}, "v=spf1 include:_spf.example.net ip4:192.0.2.10"},
		{"v=spf1 ip4:192.0.2.10 mx: bogus -all", []net.IP{v4}, "v=spf1 ip4:192.0.2.10 -all"},
		{"v=spf1 redirect=a.example redirect=b.example", nil, "v=spf1 redirect=a.example"},
		{"not spf at all", []net.IP{v4}, "v=spf1 ip4:192.0.2.10 -all"},
	} {
		if got := repairSPF(c.record, c.add); got != c.want {
			t.Errorf("repairSPF(%q, %v) = %q, want %q", c.record, c.add, got, c.want)
		}
	}
}

func TestMergeSPF(t *testing.T) {
	got := mergeSPF([]string{"v=spf1 mx ip4:192.0.2.1 -all", "v=spf1 ip4:192.0.2.1 include:_spf.example.net ~all"})
	if want := "v=spf1 mx ip4:192.0.2.1 include:_spf.example.net -all"; got != want {
		t.Errorf("mergeSPF = %q, want %q", got, want)
	}
}
