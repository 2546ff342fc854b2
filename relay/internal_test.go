package relay

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"dkimrelay/internal/testkit"
	"dkimrelay/resolver/dnstest"
)

// TestInternalDestinationsRefused: with delivery.allow_internal off (the
// default), an application's login cannot make the relay deliver to an
// internal network: an address literal of one is refused at RCPT with a
// reply naming the setting, and an MX whose addresses are all internal
// is skipped with a deferral that says why; nothing reaches the internal
// host. A public address literal is still accepted (RFC 5321 section
// 4.1.3), and a smarthost on an internal address, the administrator's own
// choice, is used.
func TestInternalDestinationsRefused(t *testing.T) {
	port, ls := testkit.ListenSame(t, "127.0.0.2")
	cert, _ := testkit.ServerCert(t, "mx.good.test")
	sink := serveTLSSink(t, ls[0], cert)
	dns := dnstest.NewServer(t)
	dns.AddZone(hardZone)
	h := newHardRelay(t, dns, hardOptions{port: port, delivery: "allow_internal = false"})

	s, _ := dialRaw(t, h.Addr())
	s.cmd("EHLO app")
	if r := s.cmd(plain("app", testkit.Password)); !strings.HasPrefix(r, "235") {
		t.Fatalf("AUTH: %q", r)
	}
	if r := s.cmd("MAIL FROM:<app@" + hardDomain + ">"); !strings.HasPrefix(r, "250") {
		t.Fatalf("MAIL: %q", r)
	}
	for _, rcpt := range []string{"x@[127.0.0.2]", "x@[127.0.0.1]", "x@[10.1.2.3]", "x@[169.254.169.254]", "x@[IPv6:::1]", "x@[IPv6:fe80::1]", "x@[IPv6:::ffff:127.0.0.1]"} {
		r := s.cmd("RCPT TO:<" + rcpt + ">")
		if !strings.HasPrefix(r, "550 5.7.1") || !strings.Contains(r, "allow_internal") {
			t.Errorf("RCPT TO:<%s>: %q, want 550 5.7.1 naming delivery.allow_internal", rcpt, r)
		}
	}
	if r := s.cmd("RCPT TO:<x@[192.0.2.1]>"); !strings.HasPrefix(r, "250") {
		t.Errorf("a public address literal: %q", r)
	}
	s.cmd("QUIT")

	// good.test's MX is 127.0.0.2.
	qid := mustSend(t, h.Addr(), []string{"someone@good.test"}, hardMessage("internal-mx", "someone@good.test"))
	ev := h.WaitEvent("deferred", 15*time.Second, func(ev map[string]any) bool { return ev["qid"] == qid })
	if reason := fmt.Sprint(ev["reason"]); !strings.Contains(reason, "internal") || !strings.Contains(reason, "allow_internal") || !strings.Contains(reason, "127.0.0.2") {
		t.Errorf("deferral reason %q: want it to say the MX is internal, its address and the setting", reason)
	}
	if n := len(sink.Messages()); n != 0 || sink.Stats().Connections != 0 {
		t.Errorf("the internal MX got %d messages, %d connections", n, sink.Stats().Connections)
	}
	h.Stop()

	// A smarthost on 127.0.0.2 is the administrator's choice: used.
	h = newHardRelay(t, dns, hardOptions{port: port, delivery: fmt.Sprintf("allow_internal = false\nmode = \"smarthost\"\nsmarthost = \"127.0.0.2:%d\"\nsmarthost_tls = \"starttls\"\nsmarthost_insecure_skip_verify = true", port)})
	mustSend(t, h.Addr(), []string{"someone@good.test"}, hardMessage("smarthost", "someone@good.test"))
	deadline := time.Now().Add(15 * time.Second)
	for len(sink.Messages()) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("nothing reached the smarthost on 127.0.0.2; log:\n%s", h.Logs.Tail(20))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
