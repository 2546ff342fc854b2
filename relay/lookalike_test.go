package relay

import (
	"strings"
	"testing"

	"dkimrelay/internal/testkit"
	"dkimrelay/resolver/dnstest"
	"dkimrelay/users"
)

// TestLookalikeSenderRefused: a login allowed notifications@example.org and
// kate@example.org may use them in any ASCII case, but not the look-alikes
// that Unicode case folding equates with them (U+017F LATIN SMALL LETTER
// LONG S folds to s, U+212A KELVIN SIGN to k), neither as MAIL FROM nor in
// the From: header: the relay would sign them with the domain's key.
func TestLookalikeSenderRefused(t *testing.T) {
	dns := dnstest.NewServer(t)
	h := prepareHardRelay(t, dns, hardOptions{})
	if err := users.Update(h.Config.UsersFile(), func(db *users.DB) error {
		return db.Add("notify", testkit.Password, []string{"notifications@" + hardDomain, "kate@" + hardDomain})
	}); err != nil {
		t.Fatal(err)
	}
	h.Start()

	session := func() *testkit.Raw {
		s := testkit.DialRaw(t, h.Addr(), false)
		s.Hello("test")
		if r := s.Cmd(testkit.PlainAuth("", "notify", testkit.Password)); r.Code != 235 {
			t.Fatalf("AUTH: %v", r)
		}
		return s
	}
	s := session()
	for _, from := range []string{"notificationſ@example.org", "\u212Aate@example.org", "notifications@example.\u212Aorg"} {
		if r := s.Cmd("MAIL FROM:<" + from + "> SMTPUTF8").String(); !strings.HasPrefix(r, "550 5.7.1") {
			t.Errorf("MAIL FROM:<%s>: %q, want 550 5.7.1", from, r)
			s.Cmd("RSET")
		}
	}
	for _, from := range []string{"Notifications@EXAMPLE.org", "KATE@example.org"} {
		if r := s.Cmd("MAIL FROM:<" + from + ">").String(); !strings.HasPrefix(r, "250") {
			t.Errorf("MAIL FROM:<%s> (ASCII case): %q, want 250", from, r)
		}
		s.Cmd("RSET")
	}

	// The envelope is allowed; the From: header is a look-alike.
	for _, from := range []string{"notificationſ@example.org", "\u212Aate@example.org"} {
		s := session()
		for _, c := range []string{"MAIL FROM:<kate@example.org> SMTPUTF8", "RCPT TO:<someone@example.net>", "DATA"} {
			if r := s.Cmd(c).String(); !strings.HasPrefix(r, "250") && !strings.HasPrefix(r, "354") {
				t.Fatalf("%s: %q", c, r)
			}
		}
		r := s.Cmd("From: <" + from + ">\r\nTo: <someone@example.net>\r\nSubject: look-alike\r\n\r\nHello.\r\n.").String()
		if !strings.HasPrefix(r, "550 5.7.1") {
			t.Errorf("From: <%s>: %q, want 550 5.7.1", from, r)
		}
	}
}
