package relay

// Faults the relay must survive with nothing lost: a full disk,
// DNS servers down or slow, remote MX hosts that stall or drop the
// connection, a damaged queue record, and a second relay on the same data
// dir.

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/miekg/dns"

	"dkimrelay/internal/smtpsink"
	"dkimrelay/internal/testkit"
	"dkimrelay/relay/queue"
	"dkimrelay/resolver/dnstest"
)

// queueFiles lists the queue folder's files (not its subfolders), but for
// the empty message files the queue keeps ready for the next drafts: those
// the queue names, or, for a relay in a child process, every empty .msg (a
// message file never is empty: its trailer alone has a footer).
func queueFiles(t *testing.T, h *hardRelay) []string {
	t.Helper()
	ents, err := os.ReadDir(h.Config.QueueDir())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if e.Type().IsRegular() && !isSpare(h, e) {
			out = append(out, e.Name())
		}
	}
	return out
}

func isSpare(h *hardRelay, e os.DirEntry) bool {
	if h.Daemon != nil {
		return h.Daemon.queue.IsSpare(e.Name())
	}
	fi, err := e.Info()
	return err == nil && strings.HasSuffix(e.Name(), ".msg") && fi.Size() == 0
}

// waitEmptyQueue waits until the relay's queue holds nothing.
func waitEmptyQueue(t *testing.T, h *hardRelay) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for h.Daemon.queue.Len() > 0 || len(queueFiles(t, h)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("queue not empty: %d messages, files %v", h.Daemon.queue.Len(), queueFiles(t, h))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDiskFullWhileAccepting: when the queue's disk is full at any step of
// writing a message, the client gets 452 4.3.1 (RFC 3463: mail system
// full; it keeps the message and retries), nothing of the message stays
// on disk, nothing is logged as accepted, and the next message after space
// returns is accepted and delivered, with no restart.
func TestDiskFullWhileAccepting(t *testing.T) {
	port, ls := testkit.ListenSame(t, "127.0.0.2")
	sink := serveSink(t, ls[0])
	dns := dnstest.NewServer(t)
	dns.AddZone(hardZone)

	var fault atomic.Pointer[func(op, path string) error]
	h := newHardRelay(t, dns, hardOptions{port: port, beforeRun: func(r *Relay) {
		r.queue.SetFaultHook(func(op, path string) error {
			if f := fault.Load(); f != nil {
				return (*f)(op, path)
			}
			return nil
		})
	}})

	big := strings.Repeat("a line of a large message, to make the spool write during DATA\r\n", 5000) // 330 kB
	cases := []struct {
		name, op, suffix string
		body             string
	}{
		// A small message and its envelope (the trailer of its .msg)
		// reach the file in one write at commit.
		{"message and envelope write at commit", "write", ".msg", ""},
		{"message write during DATA", "write", ".msg", big},
		{"message fsync", "sync", ".msg", ""},
		{"directory fsync", "dirsync", "", ""},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			waitEmptyQueue(t, h)
			full := func(op, path string) error {
				if op == tc.op && strings.HasSuffix(path, tc.suffix) {
					return &os.PathError{Op: op, Path: path, Err: syscall.ENOSPC}
				}
				return nil
			}
			fault.Store(&full)
			drained := 0
			if tc.op == "dirsync" {
				// The spare message files made durable before the
				// fault take messages with no directory fsync, as
				// they may: those are accepted (and delivered below).
				// The pool cannot make more while the fault lasts;
				// once they are used up, drafts create their own
				// file and need the failing fsync.
				for ; ; drained++ {
					if drained > 2*queue.DefaultSpares {
						t.Fatal("the queue kept accepting messages with its directory fsync failing")
					}
					_, se := hardSend(t, h.Addr(), []string{"someone@good.test"}, hardMessage(fmt.Sprintf("spare-%d-%d", i, drained), "someone@good.test"))
					if se != nil {
						break
					}
				}
			}
			accepted := len(h.Logs.Events("accepted"))
			msg := hardMessage(fmt.Sprintf("full-%d", i), "someone@good.test") + tc.body
			_, se := hardSend(t, h.Addr(), []string{"someone@good.test"}, msg)
			if se == nil || se.Code != 452 || se.EnhancedCode != (smtp.EnhancedCode{4, 3, 1}) {
				t.Fatalf("with the disk full: %v, want 452 4.3.1", se)
			}
			if files := queueFiles(t, h); len(files) != 0 {
				t.Errorf("a refused message left files in the queue: %v", files)
			}
			if h.Daemon.queue.Len() != 0 || len(h.Logs.Events("accepted")) != accepted {
				t.Errorf("a refused message was queued or logged as accepted")
			}

			// Space returns: the next message goes through.
			fault.Store(nil)
			id := fmt.Sprintf("after-%d", i)
			qid := mustSend(t, h.Addr(), []string{"someone@good.test"}, hardMessage(id, "someone@good.test"))
			testkit.AwaitMessage(t, 15*time.Second, "Hello "+id+".", sink)
			h.WaitEvent("delivered", 5*time.Second, func(ev map[string]any) bool { return ev["qid"] == qid })
			for n := range drained {
				testkit.AwaitMessage(t, 15*time.Second, fmt.Sprintf("Hello spare-%d-%d.", i, n), sink)
			}
		})
	}
	if n := len(testkit.WithText(sink.Messages(), "Hello full-")); n != 0 {
		t.Errorf("%d messages refused for want of space reached the MX", n)
	}
}

// dnsGate stands between the relay and the test DNS server: it forwards
// queries (over UDP) or, per name, drops them (a server down or too slow
// to answer) or answers SERVFAIL (a broken upstream).
type dnsGate struct {
	pc       net.PacketConn
	upstream string

	mu    sync.Mutex
	rules map[string]string // FQDN -> "drop" or "servfail"; "*" for every name
}

func newDNSGate(t *testing.T, upstream string) *dnsGate {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &dnsGate{pc: pc, upstream: upstream, rules: map[string]string{}}
	t.Cleanup(func() { pc.Close() })
	go g.serve()
	return g
}

func (g *dnsGate) Addr() string { return g.pc.LocalAddr().String() }

// set makes queries about name (or "*": all) go "through", or be dropped
// ("drop") or answered with SERVFAIL ("servfail").
func (g *dnsGate) set(name, rule string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if name != "*" {
		name = dns.Fqdn(strings.ToLower(name))
	}
	if rule == "through" {
		delete(g.rules, name)
		return
	}
	g.rules[name] = rule
}

func (g *dnsGate) serve() {
	buf := make([]byte, 65535)
	for {
		n, from, err := g.pc.ReadFrom(buf)
		if err != nil {
			return
		}
		req := new(dns.Msg)
		if req.Unpack(buf[:n]) != nil || len(req.Question) != 1 {
			continue
		}
		g.mu.Lock()
		rule, ok := g.rules[strings.ToLower(req.Question[0].Name)]
		if !ok {
			rule = g.rules["*"]
		}
		g.mu.Unlock()
		switch rule {
		case "drop":
			continue
		case "servfail":
			resp := new(dns.Msg)
			resp.SetRcode(req, dns.RcodeServerFailure)
			if b, err := resp.Pack(); err == nil {
				g.pc.WriteTo(b, from)
			}
			continue
		}
		go func(q []byte, from net.Addr) {
			c := &dns.Client{Timeout: 2 * time.Second}
			m := new(dns.Msg)
			if m.Unpack(q) != nil {
				return
			}
			resp, _, err := c.Exchange(m, g.upstream)
			if err != nil {
				return
			}
			if b, err := resp.Pack(); err == nil {
				g.pc.WriteTo(b, from)
			}
		}(append([]byte(nil), buf[:n]...), from)
	}
}

// TestDNSFailures: with the DNS servers silent or failing, submission
// under spf_policy = "reject" answers 451 4.4.3, never 550 (RFC 7208
// section 8.6: a temperror is temporary), and a queued message is
// deferred, never bounced, until DNS answers again, then delivered.
func TestDNSFailures(t *testing.T) {
	port, ls := testkit.ListenSame(t, "127.0.0.2")
	sink := serveSink(t, ls[0])
	dns := dnstest.NewServer(t)
	dns.AddZone(hardZone)
	dns.Add(`example.org. 300 IN TXT "v=spf1 ip4:127.0.0.1 -all"`)
	gate := newDNSGate(t, dns.Addr())
	h := newHardRelay(t, dns, hardOptions{port: port, spf: "reject", dnsAddr: gate.Addr()})

	for _, rule := range []string{"drop", "servfail"} {
		gate.set("*", rule)
		_, se := hardSend(t, h.Addr(), []string{"someone@good.test"}, hardMessage("spf-"+rule, "someone@good.test"))
		if se == nil || se.Code != 451 || se.EnhancedCode != (smtp.EnhancedCode{4, 4, 3}) {
			t.Errorf("MAIL FROM with DNS answering %s: %v, want 451 4.4.3", rule, se)
		} else if !strings.Contains(se.Message, "try again later") {
			t.Errorf("the 451 does not say to try later: %q", se.Message)
		}
	}

	// DNS answers for the sender (SPF passes) but not for the
	// destination: accepted, then deferred while the MX lookup fails.
	gate.set("*", "through")
	gate.set("good.test", "drop")
	qid := mustSend(t, h.Addr(), []string{"someone@good.test"}, hardMessage("mx-down", "someone@good.test"))
	h.WaitEvent("deferred", 10*time.Second, func(ev map[string]any) bool { return ev["qid"] == qid })
	gate.set("good.test", "servfail")
	deadline := time.Now().Add(15 * time.Second)
	for len(h.EventsFor("deferred", qid)) < 3 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	deferred := h.EventsFor("deferred", qid)
	if len(deferred) < 3 {
		t.Fatalf("%d deferrals while the MX lookup failed, want several", len(deferred))
	}
	for _, ev := range deferred {
		if !strings.Contains(fmt.Sprint(ev["reason"]), "MX lookup for good.test failed") {
			t.Errorf("deferral reason %q does not name the failed lookup", ev["reason"])
		}
	}
	if b := h.EventsFor("bounced", qid); len(b) > 0 {
		t.Fatalf("a DNS failure bounced the message: %v", b)
	}
	if len(sink.Messages()) != 0 {
		t.Fatal("delivered although the MX could not be looked up")
	}

	// DNS is back: the message is delivered, and never bounced.
	gate.set("good.test", "through")
	testkit.AwaitMessage(t, 15*time.Second, "Hello mx-down.", sink)
	h.WaitEvent("delivered", 5*time.Second, func(ev map[string]any) bool { return ev["qid"] == qid })
	if b := h.Logs.Events("bounced"); len(b) > 0 {
		t.Errorf("bounced events: %v", b)
	}
}

// TestStalledMX: a remote MX that accepts the connection and never
// answers, and one that answers one byte at a time without ever finishing
// a line, each cost one attempt of delivery.command_timeout; the message is
// deferred and the single worker moves on to deliver the next message.
func TestStalledMX(t *testing.T) {
	port, ls := testkit.ListenSame(t, "127.0.0.2", "127.0.0.3", "127.0.0.4")
	sink := serveSink(t, ls[0])
	testkit.ServeRaw(t, ls[1], func(c net.Conn) { io.Copy(io.Discard, c) }) // other.test: silent
	testkit.ServeRaw(t, ls[2], func(c net.Conn) {                           // slow.test: trickling
		// "220-" and then a byte every 100ms: the line never ends, each
		// byte arrives well within any per-read timeout.
		for _, b := range []byte("220-" + strings.Repeat("x", 100000)) {
			if _, err := c.Write([]byte{b}); err != nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	dns := dnstest.NewServer(t)
	dns.AddZone(hardZone)
	h := newHardRelay(t, dns, hardOptions{port: port, delivery: "workers = 1\ncommand_timeout = \"1s\"\nretry_min = \"1m\"\nretry_max = \"1m\""})

	silent := mustSend(t, h.Addr(), []string{"a@other.test"}, hardMessage("silent", "a@other.test"))
	slow := mustSend(t, h.Addr(), []string{"b@slow.test"}, hardMessage("slow", "b@slow.test"))
	good := mustSend(t, h.Addr(), []string{"c@good.test"}, hardMessage("good", "c@good.test"))

	testkit.AwaitMessage(t, 30*time.Second, "Hello good.", sink)
	h.WaitEvent("delivered", 5*time.Second, func(ev map[string]any) bool { return ev["qid"] == good })
	for _, qid := range []string{silent, slow} {
		ev := h.WaitEvent("deferred", 5*time.Second, func(ev map[string]any) bool { return ev["qid"] == qid })
		reason := fmt.Sprint(ev["reason"])
		if !strings.Contains(reason, "timeout") && !strings.Contains(reason, "timed out") {
			t.Errorf("deferral of %s does not say it timed out: %q", qid, reason)
		}
		if len(h.EventsFor("bounced", qid)) > 0 {
			t.Errorf("a stalled MX bounced %s", qid)
		}
	}
}

// TestDropInData: an MX that drops the connection in the middle of DATA
// has not taken the message: the attempt is deferred and the message
// delivered whole on the retry.
func TestDropInData(t *testing.T) {
	port, ls := testkit.ListenSame(t, "127.0.0.2")
	sink := serveSink(t, ls[0])
	var drops atomic.Int32
	sink.SetDataHook(func(c *smtp.Conn, r io.Reader) error {
		if drops.Add(1) > 1 {
			sink.SetDataHook(nil)
			return nil // the sink reads and keeps the message
		}
		io.CopyN(io.Discard, r, 4096)
		c.Conn().Close()
		return errors.New("dropped")
	})
	dns := dnstest.NewServer(t)
	dns.AddZone(hardZone)
	h := newHardRelay(t, dns, hardOptions{port: port})

	body := strings.Repeat("0123456789 the body of a message cut short by its MX\r\n", 4000)
	qid := mustSend(t, h.Addr(), []string{"someone@good.test"}, hardMessage("dropped", "someone@good.test")+body+"The end.\r\n")
	ev := h.WaitEvent("deferred", 10*time.Second, func(ev map[string]any) bool { return ev["qid"] == qid })
	t.Logf("first attempt: %v", ev["reason"])
	m := testkit.AwaitMessage(t, 15*time.Second, "The end.", sink)
	if !strings.Contains(string(m.Data), body) || !strings.HasPrefix(string(m.Data), "DKIM-Signature:") {
		t.Errorf("the retried message is not whole (%d bytes)", len(m.Data))
	}
	h.WaitEvent("delivered", 5*time.Second, func(ev map[string]any) bool { return ev["qid"] == qid })
	if n := len(sink.Messages()); n != 1 {
		t.Errorf("%d messages recorded, want 1", n)
	}
}

// TestDamagedRecordMovedAside: a queue record that does not parse is moved
// to queue/damaged with a queue_damaged event naming it, and the rest of
// the queue is delivered by the running relay.
func TestDamagedRecordMovedAside(t *testing.T) {
	port, ls := testkit.ListenSame(t, "127.0.0.2")
	sink := serveSink(t, ls[0])
	sink.SetReply(func(p smtpsink.Phase, _ string) error {
		if p == smtpsink.Mail {
			return nil
		}
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "not now"}
	})
	dns := dnstest.NewServer(t)
	dns.AddZone(hardZone)
	h := newHardRelay(t, dns, hardOptions{port: port})
	var qids []string
	for i := range 3 {
		id := fmt.Sprintf("queued-%d", i)
		qids = append(qids, mustSend(t, h.Addr(), []string{"someone@good.test"}, hardMessage(id, "someone@good.test")))
	}
	for _, qid := range qids {
		h.WaitEvent("deferred", 10*time.Second, func(ev map[string]any) bool { return ev["qid"] == qid })
	}
	h.Stop()

	damaged := qids[1]
	record := filepath.Join(h.Config.QueueDir(), damaged+".json")
	if err := os.WriteFile(record, []byte(`{"version": 1, "id": "`+damaged+`", "rcpts": [{"addr": `), 0o600); err != nil {
		t.Fatal(err)
	}
	sink.SetReply(nil)
	h.Start()

	ev := h.WaitEvent("queue_damaged", 5*time.Second, nil)
	if ev["qid"] != damaged || ev["moved_to"] != filepath.Join(h.Config.QueueDir(), "damaged") {
		t.Errorf("queue_damaged event %v, want qid %s moved to damaged/", ev, damaged)
	}
	for _, ext := range []string{".json", ".msg"} {
		if _, err := os.Stat(filepath.Join(h.Config.QueueDir(), "damaged", damaged+ext)); err != nil {
			t.Errorf("the damaged message's %s was not kept aside: %v", ext, err)
		}
	}
	for _, i := range []int{0, 2} {
		testkit.AwaitMessage(t, 15*time.Second, fmt.Sprintf("Hello queued-%d.", i), sink)
	}
	waitEmptyQueue(t, h)
	if len(testkit.WithText(sink.Messages(), "Hello queued-1.")) != 0 {
		t.Error("the damaged message was delivered")
	}
}

// TestSecondServeRefused: a second relay on the same data dir is refused
// with an error that says what to do; once the first stops, it starts.
func TestSecondServeRefused(t *testing.T) {
	dns := dnstest.NewServer(t)
	h := newHardRelay(t, dns, hardOptions{})
	r, err := New(h.Config, discardLog())
	if err == nil {
		r.closeStores()
		t.Fatal("a second relay started on the same data dir")
	}
	if !errors.Is(err, ErrRunning) {
		t.Errorf("error %v is not ErrRunning", err)
	}
	for _, want := range []string{"already running", h.Config.DataDir, "stop it first"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	// The refused relay touched nothing: the first still accepts mail.
	if _, se := hardSend(t, h.Addr(), []string{"someone@good.test"}, hardMessage("still", "someone@good.test")); se != nil {
		t.Errorf("the first relay refused mail after the second was refused: %v", se)
	}
	h.Stop()
	r, err = New(h.Config, discardLog())
	if err != nil {
		t.Fatalf("after the first relay stopped: %v", err)
	}
	r.closeStores()
}
