package relay

// SIGKILL at the worst moments: while messages are written to
// the queue and delivered, and while keys rotate. The test binary runs
// itself as the child that is killed; after a restart, the queue and the
// key store must be consistent and nothing acknowledged may be lost.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"dkimrelay/config"
	"dkimrelay/internal/testkit"
	"dkimrelay/keys"
	"dkimrelay/relay/queue"
	"dkimrelay/resolver/dnstest"
)

// The child processes: a relay serving a config, or a key rotation loop.
const (
	killRelayEnv  = "DKIMRELAY_KILL_RELAY"  // config path
	killRotateEnv = "DKIMRELAY_KILL_ROTATE" // keys dir
)

// runRelayChild runs the relay of the config at path, logging to path.log,
// and prints "ADDR host:port" (its STARTTLS listener) once it listens.
func runRelayChild(path string) {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(3)
	}
	cfg, err := config.Load(path)
	if err != nil {
		fail(err)
	}
	lf, err := os.OpenFile(path+".log", os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		fail(err)
	}
	r, err := New(cfg, slog.New(slog.NewJSONHandler(lf, nil)))
	if err != nil {
		fail(err)
	}
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background()) }()
	for len(r.smtp.Addrs()) == 0 {
		select {
		case err := <-done:
			fail(fmt.Errorf("relay stopped: %v", err))
		case <-time.After(10 * time.Millisecond):
		}
	}
	fmt.Printf("ADDR %s\n", r.smtp.Addrs()[0])
	fail(<-done)
}

// startRelayChild starts a child relay on h's config and returns it with
// its STARTTLS address.
func startRelayChild(t *testing.T, h *hardRelay) (*testkit.Process, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillDuringQueueAndDelivery$")
	cmd.Env = append(os.Environ(), killRelayEnv+"="+h.Config.Path)
	p := testkit.StartProcess(t, cmd)
	t.Cleanup(p.Kill)
	return p, p.AwaitLine("ADDR ", 20*time.Second)
}

// submitUntilDead submits messages over one connection until the relay
// goes away, recording each acknowledged one (its test ID) in acked.
func submitUntilDead(addr, prefix string, mu *sync.Mutex, acked map[string]string) {
	c, err := testkit.OpenSubmission(addr, "app", testkit.Password)
	if err != nil {
		return
	}
	defer c.Close()
	for n := 0; ; n++ {
		id := fmt.Sprintf("%s-%d", prefix, n)
		qid, err := testkit.Send(c, "app@"+hardDomain, []string{"someone@good.test"}, []byte(hardMessage(id, "someone@good.test")), nil)
		if err != nil {
			return
		}
		mu.Lock()
		acked[id] = qid
		mu.Unlock()
	}
}

// TestKillDuringQueueAndDelivery: a relay SIGKILLed at random moments
// while three clients submit and a slow MX receives leaves a queue that the
// next relay loads without damage and delivers in full: every message that
// got its 250 arrives at least once (RFC 5321 section 6.1).
func TestKillDuringQueueAndDelivery(t *testing.T) {
	if path := os.Getenv(killRelayEnv); path != "" {
		runRelayChild(path)
		return
	}
	port, ls := testkit.ListenSame(t, "127.0.0.2")
	sink := serveSink(t, ls[0])
	sink.SetDataHook(func(*smtp.Conn, io.Reader) error {
		time.Sleep(20 * time.Millisecond) // deliveries in flight when the kill comes
		return nil
	})
	dns := dnstest.NewServer(t)
	dns.AddZone(hardZone)
	h := prepareHardRelay(t, dns, hardOptions{port: port, delivery: "workers = 4"})

	var mu sync.Mutex
	acked := map[string]string{}
	for round := range 3 {
		child, addr := startRelayChild(t, h)
		var wg sync.WaitGroup
		for g := range 3 {
			wg.Go(func() { submitUntilDead(addr, fmt.Sprintf("r%d-g%d", round, g), &mu, acked) })
		}
		// Let some messages through, then kill at a random moment.
		deadline := time.Now().Add(20 * time.Second)
		for {
			mu.Lock()
			n := len(acked)
			mu.Unlock()
			if n >= 10*(round+1) || time.Now().After(deadline) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(time.Duration(rand.IntN(200)) * time.Millisecond)
		child.Kill()
		wg.Wait()
	}
	mu.Lock()
	t.Logf("%d messages acknowledged over 3 killed relays, %d deliveries so far", len(acked), len(sink.Messages()))
	mu.Unlock()
	if len(acked) < 30 {
		t.Fatalf("only %d messages acknowledged", len(acked))
	}

	// A last relay delivers everything that was acknowledged.
	child, _ := startRelayChild(t, h)
	deadline := time.Now().Add(60 * time.Second)
	var missing []string
	for {
		missing = missing[:0]
		for id := range acked {
			if len(testkit.WithText(sink.Messages(), "Hello "+id+".")) == 0 {
				missing = append(missing, id)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(missing) > 0 {
		t.Fatalf("%d acknowledged messages were never delivered, e.g. %s (QID %s)", len(missing), missing[0], acked[missing[0]])
	}
	for time.Now().Before(deadline) && len(queueFiles(t, h)) > 0 {
		time.Sleep(50 * time.Millisecond)
	}
	if files := queueFiles(t, h); len(files) > 0 {
		t.Errorf("the queue still holds %v after everything was delivered", files)
	}
	if _, err := os.Stat(filepath.Join(h.Config.QueueDir(), "damaged")); err == nil {
		t.Error("kills left damaged messages in the queue")
	}
	child.Stop(30 * time.Second)
	// The child ends without a clean stop: the next start removes the
	// empty message files it kept ready for new mail.
	if q, err := queue.Open(queue.Options{Dir: h.Config.QueueDir(), Delivery: h.Config.Delivery}); err != nil {
		t.Error(err)
	} else {
		q.Close()
		if ents, err := os.ReadDir(h.Config.QueueDir()); err != nil || len(ents) != 0 {
			t.Errorf("after the next start the queue folder holds %v (%v)", ents, err)
		}
	}
	logs, _ := os.ReadFile(h.Config.Path + ".log")
	if strings.Contains(string(logs), `"msg":"queue_damaged"`) {
		t.Error("a relay logged queue_damaged after a kill")
	}
}

// publishedLookup is a TXT lookup that finds every key of the store at
// dir published, as if DNS were instantaneous.
func publishedLookup(dir string) keys.TXTLookup {
	return func(ctx context.Context, name string) ([]string, error) {
		st, err := keys.Open(dir)
		if err != nil {
			return nil, err
		}
		sel, domain, _ := strings.Cut(name, "._domainkey.")
		k, err := st.Get(strings.TrimSuffix(domain, "."), sel)
		if err != nil {
			return nil, err
		}
		v, err := k.RecordValue()
		return []string{v}, err
	}
}

// runRotateChild rotates the keys of hardDomain in dir as fast as it can:
// a new key, its activation (the old one retiring), the prune, again and
// again, printing a line after each step.
func runRotateChild(dir string) {
	st, err := keys.Open(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(3)
	}
	opts := keys.RotateOptions{RotateAfter: time.Hour, Lookup: publishedLookup(dir)}
	for n := 0; ; n++ {
		opts.StartNow = n%2 == 0 // generate, then activate
		if _, err := st.Rotate(context.Background(), hardDomain, opts, time.Now()); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(3)
		}
		if _, err := st.Prune("", 0, time.Now()); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(3)
		}
		fmt.Printf("STEP %d\n", n)
	}
}

// TestKillDuringKeyRotation: a key rotation SIGKILLed at random moments
// leaves a store with no damaged key, never without an active key, and
// cleaned of its leftovers by the next change; a relay started on it signs
// mail that verifies.
func TestKillDuringKeyRotation(t *testing.T) {
	if dir := os.Getenv(killRotateEnv); dir != "" {
		runRotateChild(dir)
		return
	}
	dns := dnstest.NewServer(t)
	h := prepareHardRelay(t, dns, hardOptions{})
	dir := h.Config.KeysDir()
	for round := range 6 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKillDuringKeyRotation$")
		cmd.Env = append(os.Environ(), killRotateEnv+"="+dir)
		child := testkit.StartProcess(t, cmd)
		t.Cleanup(child.Kill)
		// A few steps, then a kill at a random moment inside one.
		for range 2 + round {
			child.AwaitLine("STEP ", 60*time.Second)
		}
		time.Sleep(time.Duration(rand.IntN(30)) * time.Millisecond)
		child.Kill()
		for range child.Lines {
		}
		checkKeyStore(t, dir, round)
	}

	// A relay on the store signs with its active keys, and the mail
	// verifies against their records. (A receiver's DNS of its own: the
	// rotations reused selectors whose first records are still in dns.)
	st, err := keys.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	published := dnstest.NewServer(t)
	for _, k := range st.Active(hardDomain) {
		testkit.PublishKey(t, published, k)
	}
	port, ls := testkit.ListenSame(t, "127.0.0.2")
	sink := serveSink(t, ls[0])
	dns.AddZone(hardZone)
	h.Config.Delivery.Port = port
	h.Start()
	mustSend(t, h.Addr(), []string{"someone@good.test"}, hardMessage("after-kills", "someone@good.test"))
	res := hardResolver(t, published)
	verifyAt(t, res, testkit.AwaitMessage(t, 15*time.Second, "Hello after-kills.", sink).Data)
}

// checkKeyStore checks a store after a kill: every key loads, one at least
// is active, and after one more change no leftover file remains.
func checkKeyStore(t *testing.T, dir string, round int) {
	t.Helper()
	st, err := keys.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	list, errs := st.List()
	if len(errs) > 0 {
		t.Fatalf("round %d: the store is damaged: %v", round, errors.Join(errs...))
	}
	active := 0
	for _, k := range list {
		if k.State == keys.Active {
			active++
		}
	}
	if active == 0 {
		t.Fatalf("round %d: no active key left: %v", round, list)
	}
	// One more change (what the next cron run does: a new key, or the
	// activation of the pending one) clears what the kill left half-done.
	if _, err := st.Rotate(context.Background(), hardDomain, keys.RotateOptions{RotateAfter: time.Hour, StartNow: true, Lookup: publishedLookup(dir)}, time.Now()); err != nil {
		t.Fatalf("round %d: rotating after the kill: %v", round, err)
	}
	list, _ = st.List()
	known := map[string]bool{}
	for _, k := range list {
		known[k.Selector+".pem"], known[k.Selector+".json"] = true, true
	}
	ents, err := os.ReadDir(filepath.Join(dir, hardDomain))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		// A removed key's selector mark stays on purpose (keys.Store
		// never derives that selector again).
		if !known[e.Name()] && !strings.HasPrefix(e.Name(), ".used-") {
			t.Errorf("round %d: leftover %s after the next change", round, e.Name())
		}
	}
}
