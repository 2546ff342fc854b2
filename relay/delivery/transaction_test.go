package delivery

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"dkimrelay/internal/smtpsink"
	"dkimrelay/internal/testkit"
	"dkimrelay/relay/outcome"
)

func TestRecipientReplies(t *testing.T) {
	e := newEnv(t)
	e.dns.Add("example.net. MX 10 mx1.test.")
	s := serveSink(t, e.ln2)
	s.SetReply(smtpsink.At(smtpsink.Rcpt, func(to string) error {
		switch {
		case strings.HasPrefix(to, "unknown@"):
			return testkit.SMTPError(550, "5.1.1", "no such user")
		case strings.HasPrefix(to, "full@"):
			return testkit.SMTPError(452, "4.2.2", "mailbox full")
		}
		return nil
	}))
	d := e.deliverer(t)

	rcpts := []string{"ok@example.net", "unknown@example.net", "full@example.net", "ok2@example.net"}
	ok := want{status: outcome.Delivered, code: 250, mx: "mx1.test", reply: "250"}
	check(t, d.Deliver(context.Background(), message(body, rcpts...)), rcpts,
		ok,
		want{status: outcome.Permanent, code: 550, mx: "mx1.test", enhanced: "5.1.1", reply: "mx1.test said: 550 5.1.1 no such user"},
		want{status: outcome.Transient, code: 452, mx: "mx1.test", enhanced: "4.2.2", reply: "mx1.test said: 452 4.2.2 mailbox full"},
		ok,
	)
	rec := s.Messages()
	if len(rec) != 1 || strings.Join(rec[0].To, ",") != "ok@example.net,ok2@example.net" {
		t.Errorf("sink got %+v", rec)
	}

	// Nobody accepted: no DATA at all.
	rcpts = []string{"unknown@example.net", "full@example.net"}
	got := d.Deliver(context.Background(), message(body, rcpts...))
	if got[0].Status != outcome.Permanent || got[1].Status != outcome.Transient {
		t.Errorf("got %+v", got)
	}
	if n := len(s.Messages()); n != 1 {
		t.Errorf("a message was sent with no accepted recipient")
	}
}

func TestTransactionReplies(t *testing.T) {
	tests := []struct {
		name string
		sink sinkOption
		want want
	}{
		{"5xx after DATA", withReply(smtpsink.At(smtpsink.Data, func(string) error { return testkit.SMTPError(554, "5.7.1", "spam detected") })),
			want{status: outcome.Permanent, code: 554, mx: "mx1.test", enhanced: "5.7.1", reply: "mx1.test said: 554 5.7.1 spam detected"}},
		{"4xx after DATA", withReply(smtpsink.At(smtpsink.Data, func(string) error { return testkit.SMTPError(451, "4.7.1", "greylisted") })),
			want{status: outcome.Transient, code: 451, mx: "mx1.test", enhanced: "4.7.1", reply: "451 4.7.1 greylisted"}},
		{"5xx to MAIL FROM", withReply(smtpsink.At(smtpsink.Mail, func(string) error { return testkit.SMTPError(553, "5.7.1", "sender rejected") })),
			want{status: outcome.Permanent, code: 553, mx: "mx1.test", enhanced: "5.7.1", reply: "553 5.7.1 sender rejected"}},
		{"4xx to MAIL FROM", withReply(smtpsink.At(smtpsink.Mail, func(string) error { return testkit.SMTPError(421, "4.7.0", "too many connections") })),
			want{status: outcome.Transient, code: 421, mx: "mx1.test", reply: "421 4.7.0 too many connections"}},
		{"size over the advertised limit", func(c *smtpsink.Config) { c.MaxMessageBytes = 10 },
			want{status: outcome.Permanent, mx: "mx1.test", enhanced: "5.3.4", reply: "exceeds the 10-byte limit of mx1.test"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.dns.Add("example.net. MX 10 mx1.test.")
			s := serveSink(t, e.ln2, tt.sink)
			rcpts := []string{"a@example.net", "b@example.net"}
			got := e.deliverer(t).Deliver(context.Background(), message(body, rcpts...))
			check(t, got, rcpts, tt.want, tt.want)
			if n := len(s.Messages()); n != 0 {
				t.Errorf("sink recorded %d delivered transactions", n)
			}
		})
	}
}

func TestTwoDomainsInOneCall(t *testing.T) {
	e := newEnv(t)
	e.dns.Add("a.example. MX 10 mx1.test.", "b.example. MX 10 mx2.test.")
	s1 := serveSink(t, e.ln2)
	s2 := serveSink(t, e.ln3)
	rcpts := []string{"x@a.example", "y@b.example", "z@A.example"}
	got := e.deliverer(t).Deliver(context.Background(), message(body, rcpts...))
	check(t, got, rcpts,
		want{status: outcome.Delivered, code: 250, mx: "mx1.test", reply: "250"},
		want{status: outcome.Delivered, code: 250, mx: "mx2.test", reply: "250"},
		want{status: outcome.Delivered, code: 250, mx: "mx1.test", reply: "250"},
	)
	r1, r2 := s1.Messages(), s2.Messages()
	if len(r1) != 1 || strings.Join(r1[0].To, ",") != "x@a.example,z@A.example" {
		t.Errorf("mx1 got %+v, want one transaction for x and z", r1)
	}
	if len(r2) != 1 || strings.Join(r2[0].To, ",") != "y@b.example" {
		t.Errorf("mx2 got %+v, want one transaction for y", r2)
	}
}

func TestExtensions(t *testing.T) {
	eightBit := "From: app@relay.test\r\nSubject: hi\r\n\r\nOlá, café.\r\n"
	utf8Header := "From: app@relay.test\r\nSubject: Olá\r\n\r\nplain body\r\n"
	tests := []struct {
		name      string
		data      string
		rcpt      string
		utf8      bool // the sink offers SMTPUTF8
		want      want
		wantBody  string
		wantUTF8  bool
		delivered bool
	}{
		{"8bit body", eightBit, "u@example.net", false,
			want{status: outcome.Delivered, code: 250, mx: "mx1.test", reply: "250"}, "8BITMIME", false, true},
		{"utf8 header, server with SMTPUTF8", utf8Header, "u@example.net", true,
			want{status: outcome.Delivered, code: 250, mx: "mx1.test", reply: "250"}, "8BITMIME", true, true},
		{"utf8 header, server without SMTPUTF8", utf8Header, "u@example.net", false,
			want{status: outcome.Delivered, code: 250, mx: "mx1.test", reply: "250"}, "8BITMIME", false, true},
		{"utf8 recipient, server with SMTPUTF8", body, "josé@example.net", true,
			want{status: outcome.Delivered, code: 250, mx: "mx1.test", reply: "250"}, "", true, true},
		{"utf8 recipient, server without SMTPUTF8", body, "josé@example.net", false,
			want{status: outcome.Permanent, mx: "mx1.test", enhanced: "5.6.7", reply: "needs SMTPUTF8, which mx1.test does not support"}, "", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.dns.Add("example.net. MX 10 mx1.test.")
			var opts []sinkOption
			if tt.utf8 {
				opts = append(opts, withUTF8())
			}
			s := serveSink(t, e.ln2, opts...)
			got := e.deliverer(t).Deliver(context.Background(), message(tt.data, tt.rcpt))
			check(t, got, []string{tt.rcpt}, tt.want)
			rec := s.Messages()
			if !tt.delivered {
				if len(rec) != 0 {
					t.Errorf("sink got %+v", rec)
				}
				return
			}
			if len(rec) != 1 {
				t.Fatalf("sink got %d transactions", len(rec))
			}
			if string(rec[0].Opts.Body) != tt.wantBody || rec[0].Opts.UTF8 != tt.wantUTF8 {
				t.Errorf("MAIL parameters %+v, want BODY=%q SMTPUTF8=%v", rec[0].Opts, tt.wantBody, tt.wantUTF8)
			}
			if string(rec[0].Data) != tt.data {
				t.Errorf("body arrived as %q", rec[0].Data)
			}
		})
	}
}

func TestMixedUTF8Recipients(t *testing.T) {
	e := newEnv(t)
	e.dns.Add("example.net. MX 10 mx1.test.")
	s := serveSink(t, e.ln2)
	rcpts := []string{"josé@example.net", "joe@example.net"}
	got := e.deliverer(t).Deliver(context.Background(), message(body, rcpts...))
	check(t, got, rcpts,
		want{status: outcome.Permanent, mx: "mx1.test", enhanced: "5.6.7", reply: "SMTPUTF8"},
		want{status: outcome.Delivered, code: 250, mx: "mx1.test", reply: "250"})
	if rec := s.Messages(); len(rec) != 1 || strings.Join(rec[0].To, ",") != "joe@example.net" {
		t.Errorf("sink got %+v", rec)
	}
}

func TestTimeoutsAndDrops(t *testing.T) {
	short := func(c *Config) {
		c.CommandTimeout = 300 * time.Millisecond
		c.DataTimeout = 300 * time.Millisecond
	}
	t.Run("no greeting", func(t *testing.T) {
		e := newEnv(t)
		e.dns.Add("example.net. MX 10 mx1.test.")
		testkit.ServeRaw(t, e.ln2, func(c net.Conn) { io.Copy(io.Discard, c) })
		got := e.deliverer(t, short).Deliver(context.Background(), message(body, "u@example.net"))
		check(t, got, []string{"u@example.net"},
			want{status: outcome.Transient, mx: "mx1.test", enhanced: "4.4.2", reply: "waiting for the greeting: timed out"})
	})
	t.Run("no reply to the final dot", func(t *testing.T) {
		e := newEnv(t)
		e.dns.Add("example.net. MX 10 mx1.test.")
		s := serveSink(t, e.ln2)
		release := make(chan struct{})
		t.Cleanup(func() { close(release) })
		s.SetDataHook(func(*smtp.Conn, io.Reader) error { <-release; return nil })
		rcpts := []string{"a@example.net", "b@example.net"}
		got := e.deliverer(t, short).Deliver(context.Background(), message(body, rcpts...))
		w := want{status: outcome.Transient, mx: "mx1.test", reply: "waiting for the reply to the end of the message: timed out"}
		check(t, got, rcpts, w, w)
	})
	t.Run("connection dropped during DATA", func(t *testing.T) {
		e := newEnv(t)
		e.dns.Add("example.net. MX 10 mx1.test.")
		s := serveSink(t, e.ln2)
		s.SetDataHook(func(c *smtp.Conn, r io.Reader) error {
			io.CopyN(io.Discard, r, 1000)
			c.Conn().Close()
			return errors.New("dropped")
		})
		big := body + strings.Repeat("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\r\n", 1<<14)
		got := e.deliverer(t).Deliver(context.Background(), message(big, "u@example.net"))
		check(t, got, []string{"u@example.net"}, want{status: outcome.Transient, mx: "mx1.test", enhanced: "4.4.2", reply: "lost connection with mx1.test[127.0.0.2]"})
	})
	t.Run("context cancelled mid-session", func(t *testing.T) {
		e := newEnv(t)
		e.dns.Add("example.net. MX 10 mx1.test.")
		s := serveSink(t, e.ln2)
		ctx, cancel := context.WithCancel(context.Background())
		release := make(chan struct{})
		t.Cleanup(func() { close(release) })
		s.SetDataHook(func(*smtp.Conn, io.Reader) error { cancel(); <-release; return nil })
		got := e.deliverer(t).Deliver(ctx, message(body, "u@example.net"))
		check(t, got, []string{"u@example.net"}, want{status: outcome.Transient, mx: "mx1.test", enhanced: "4.4.7", reply: "delivery interrupted"})
	})
	t.Run("spool read failure", func(t *testing.T) {
		e := newEnv(t)
		e.dns.Add("example.net. MX 10 mx1.test.")
		s := serveSink(t, e.ln2)
		m := message(body, "u@example.net")
		m.Open = func() (io.ReadCloser, error) { return nil, errors.New("disk on fire") }
		got := e.deliverer(t).Deliver(context.Background(), m)
		check(t, got, []string{"u@example.net"}, want{status: outcome.Transient, reply: "disk on fire"})
		if len(s.Messages()) != 0 {
			t.Error("something was delivered")
		}
	})
}

func TestMaxPerDomain(t *testing.T) {
	e := newEnv(t)
	e.dns.Add("example.net. MX 10 mx1.test.")
	s := serveSink(t, e.ln2)
	s.SetDataHook(func(*smtp.Conn, io.Reader) error { time.Sleep(100 * time.Millisecond); return nil })
	d := e.deliverer(t, func(c *Config) { c.MaxPerDomain = 1 })
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() {
			got := d.Deliver(context.Background(), message(body, "u"+strconv.Itoa(i)+"@example.net"))
			if got[0].Status != outcome.Delivered {
				t.Errorf("message %d: %+v", i, got[0])
			}
		})
	}
	wg.Wait()
	if n := s.Stats().MaxInData; n != 1 {
		t.Errorf("%d sessions at once for one domain, want at most 1", n)
	}
	if len(d.limit.slots) != 0 {
		t.Errorf("limiter kept %d idle entries", len(d.limit.slots))
	}
}
