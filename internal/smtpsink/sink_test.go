package smtpsink_test

import (
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-smtp"

	"dkimrelay/internal/smtpsink"
	"dkimrelay/internal/testkit"
)

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// TestRecordsAndReplies: the sink keeps the envelope and body of what it
// accepts, answers each phase as its Replier says, and counts commands.
func TestRecordsAndReplies(t *testing.T) {
	s := testkit.ServeSink(t, listen(t), smtpsink.Config{Reply: func(p smtpsink.Phase, arg string) error {
		switch {
		case p == smtpsink.Rcpt && strings.HasPrefix(arg, "unknown@"):
			return testkit.SMTPError(550, "5.1.1", "no such user")
		case p == smtpsink.Data && strings.Contains(arg, "spam@"):
			return testkit.SMTPError(554, "5.7.1", "spam")
		}
		return nil
	}})
	c := testkit.DialRaw(t, s.Addr(), false)
	c.Hello("client.test")
	steps := []struct {
		cmd  string
		code int
	}{
		{"MAIL FROM:<a@example.org> SIZE=20", 250},
		{"RCPT TO:<b@example.net>", 250},
		{"RCPT TO:<Unknown@example.net>", 250}, // the Replier sees the address as sent
		{"RCPT TO:<unknown@example.net>", 550},
	}
	for _, st := range steps {
		if rp := c.Cmd(st.cmd); rp.Code != st.code {
			t.Fatalf("%s: %v, want %d", st.cmd, rp, st.code)
		}
	}
	if rp := c.Data("Subject: hi\r\n\r\n..dot\r\n.\r\n"); rp.Code != 250 {
		t.Fatalf("DATA: %v", rp)
	}
	msgs := s.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages kept, want 1", len(msgs))
	}
	m := msgs[0]
	if m.From != "a@example.org" || strings.Join(m.To, ",") != "b@example.net,Unknown@example.net" || m.Helo != "client.test" ||
		m.Local != "127.0.0.1" || m.Remote != "127.0.0.1" || m.TLS || m.Opts.Size != 20 {
		t.Errorf("kept %+v", m)
	}
	if string(m.Data) != "Subject: hi\r\n\r\n.dot\r\n" || m.Header("Subject") != "hi" {
		t.Errorf("data %q", m.Data)
	}
	if n := s.RcptAttempts("UNKNOWN@example.net"); n != 2 {
		t.Errorf("RcptAttempts = %d, want 2 (case folded)", n)
	}

	// DATA refused: nothing kept.
	c.Expect("MAIL FROM:<a@example.org>", 250)
	c.Expect("RCPT TO:<spam@example.net>", 250)
	if rp := c.Data("Subject: buy\r\n\r\nnow\r\n.\r\n"); rp.Code != 554 || !strings.HasPrefix(rp.Text(), "5.7.1") {
		t.Errorf("refused DATA: %v", rp)
	}
	st := s.Stats()
	// go-smtp resets the session after writing the reply to DATA: the
	// second reset may not have happened yet.
	if st.Resets < 1 {
		t.Errorf("%d resets after a transaction, want at least 1", st.Resets)
	}
	want := smtpsink.Stats{Connections: 1, Transactions: 2, Rcpts: 4, Messages: 1, MaxInData: 1, Resets: st.Resets}
	if st != want {
		t.Errorf("stats %+v, want %+v", st, want)
	}
}

// TestAuthAndTLS: with RequireAuth, MAIL waits for a login, which is
// offered only in TLS; the login and the TLS state are kept with the
// message.
func TestAuthAndTLS(t *testing.T) {
	s := testkit.ServeSink(t, listen(t), smtpsink.Config{
		TLS: testkit.SinkTLS(t), AuthMechs: []string{"PLAIN"}, Users: map[string]string{"relay": "pw"}, RequireAuth: true,
	})
	c := testkit.DialRaw(t, s.Addr(), false)
	if ext := c.Hello("client.test"); strings.Contains(strings.Join(ext, " "), "AUTH") {
		t.Errorf("AUTH offered before TLS: %v", ext)
	}
	if rp := c.Cmd("MAIL FROM:<a@example.org>"); rp.Code != 530 {
		t.Errorf("MAIL before AUTH: %v", rp)
	}
	if ext := c.StartTLS("client.test"); !strings.Contains(strings.Join(ext, " "), "AUTH PLAIN") {
		t.Errorf("AUTH not offered in TLS: %v", ext)
	}
	if rp := c.Cmd(testkit.PlainAuth("", "relay", "wrong")); rp.Code != 535 {
		t.Errorf("wrong password: %v", rp)
	}
	if rp := c.Cmd(testkit.PlainAuth("other", "relay", "pw")); rp.Code != 535 {
		t.Errorf("another identity: %v", rp)
	}
	c.Login("relay", "pw")
	c.Expect("MAIL FROM:<a@example.org>", 250)
	c.Expect("RCPT TO:<b@example.net>", 250)
	if rp := c.Data("Subject: x\r\n\r\nx\r\n.\r\n"); rp.Code != 250 {
		t.Fatalf("DATA: %v", rp)
	}
	m := s.Messages()[0]
	if !m.TLS || m.User != "relay" {
		t.Errorf("kept %+v, want TLS and user relay", m)
	}
	st := s.Stats()
	if st.AuthAttempts != 3 || st.AuthFailures != 2 || st.Logins != 1 || st.TLSSessions != 1 || st.Transactions != 2 {
		t.Errorf("stats %+v", st)
	}
}

// TestDataHookAndClose: a DataHook that drops the connection leaves
// nothing kept; without it the next transfer is kept whole; a closed sink
// refuses connections.
func TestDataHookAndClose(t *testing.T) {
	var mu sync.Mutex
	var arrived []string
	s := testkit.ServeSink(t, listen(t), smtpsink.Config{
		Discard: true,
		Arrived: func(m smtpsink.Message) {
			mu.Lock()
			defer mu.Unlock()
			arrived = append(arrived, m.Header("Subject"))
		},
		DataHook: func(c *smtp.Conn, r io.Reader) error {
			io.CopyN(io.Discard, r, 4)
			c.Conn().Close()
			return errors.New("dropped")
		},
	})
	send := func(subject string) testkit.Reply {
		c := testkit.DialRaw(t, s.Addr(), false)
		c.Hello("client.test")
		c.Expect("MAIL FROM:<a@example.org>", 250)
		c.Expect("RCPT TO:<b@example.net>", 250)
		return c.Data("Subject: " + subject + "\r\n\r\nbody\r\n.\r\n")
	}
	if rp := send("dropped"); !rp.Closed() {
		t.Errorf("the hook's drop got %v", rp)
	}
	s.SetDataHook(nil)
	if rp := send("kept"); rp.Code != 250 {
		t.Errorf("without the hook: %v", rp)
	}
	mu.Lock()
	got := strings.Join(arrived, ",")
	mu.Unlock()
	if len(s.Messages()) != 0 || got != "kept" || s.Stats().Messages != 1 {
		t.Errorf("discarding sink kept %d, arrived %q, stats %+v", len(s.Messages()), got, s.Stats())
	}
	addr := s.Addr()
	s.Close()
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Error("a closed sink still accepts connections")
	}
}
