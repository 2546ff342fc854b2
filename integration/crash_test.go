package integration

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"dkimrelay/internal/smtpsink"
	"dkimrelay/internal/testkit"
)

// Shape of the crash test: rounds x connections x perConn messages.
const (
	crashRounds  = 5
	crashConns   = 6
	crashPerConn = 50 // 300 accepted messages a round
)

// TestCrashRecovery: a 250 is a promise (RFC 5321 section 6.1: the server
// "accepts responsibility"). Clients submit over six connections while the
// relay is SIGKILLed midway and restarted; every message that got a 250
// reaches a sink, and every QID of such a 250 is logged as delivered. Five
// rounds against the same data directory, so recovery also meets the
// leftovers of earlier crashes. Delivery is at-least-once: duplicates are
// allowed, loss is not.
func TestCrashRecovery(t *testing.T) {
	t.Parallel()
	_, sinks, r := testbed(t, relayOptions{})

	accepted := map[string]string{} // X-Test-ID -> QID
	for round := range crashRounds {
		got := crashRound(t, r, round)
		if t.Failed() {
			return
		}
		for id, qid := range got {
			accepted[id] = qid
		}

		// Every accepted message of this round arrives.
		missing := func(ms []smtpsink.Message) []string {
			have := map[string]bool{}
			for _, m := range ms {
				have[testID(m)] = true
			}
			var out []string
			for id := range got {
				if !have[id] {
					out = append(out, id)
				}
			}
			return out
		}
		deadline := time.Now().Add(60 * time.Second)
		for len(missing(sinks.all())) > 0 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if m := missing(sinks.all()); len(m) > 0 {
			t.Fatalf("round %d: %d of %d accepted messages never arrived, e.g. %v (QID %s)",
				round, len(m), len(got), m[0], got[m[0]])
		}
	}

	// The log tells the same story: each accepted QID was delivered.
	delivered := map[string]bool{}
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, e := range r.eventsNamed("delivered", "") {
			delivered[e.str("qid")] = true
		}
		var missing []string
		for _, qid := range accepted {
			if !delivered[qid] {
				missing = append(missing, qid)
			}
		}
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("%d accepted QIDs (all arrived at a sink) have no delivered event in the log; the log of each:", len(missing))
			for _, qid := range missing {
				var story []string
				for _, e := range r.events() {
					if e.str("qid") == qid {
						story = append(story, e.String())
					}
				}
				t.Errorf("  %s: %d event(s) %v", qid, len(story), story)
			}
			break
		}
		time.Sleep(100 * time.Millisecond)
	}

	copies := map[string]int{}
	for _, m := range sinks.all() {
		copies[testID(m)]++
	}
	dups := 0
	for id := range accepted {
		if copies[id] > 1 {
			dups++
		}
	}
	t.Logf("%d messages accepted over %d crashes; %d delivered more than once (allowed: at-least-once)",
		len(accepted), crashRounds, dups)
}

// crashRound submits crashConns x crashPerConn messages, SIGKILLs the relay
// when half have been accepted, restarts it, lets the senders finish, and
// returns X-Test-ID -> QID of every message that got a 250.
func crashRound(t *testing.T, r *relay, round int) map[string]string {
	const total = crashConns * crashPerConn
	var (
		mu       sync.Mutex
		accepted = map[string]string{}
		count    atomic.Int64
		halfway  = make(chan struct{})
		once     sync.Once
		wg       sync.WaitGroup
		errs     = make(chan error, crashConns)
	)
	for conn := range crashConns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := crashSender(r, round, conn, func(id, qid string) {
				mu.Lock()
				accepted[id] = qid
				mu.Unlock()
				if count.Add(1) >= total/2 {
					once.Do(func() { close(halfway) })
				}
			}); err != nil {
				errs <- err
			}
		}()
	}

	select {
	case <-halfway:
	case <-time.After(90 * time.Second):
		t.Errorf("round %d: only %d of %d messages accepted after 90s", round, count.Load(), total/2)
	}
	r.kill()
	r.start()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("round %d: %v", round, err)
	}
	return accepted
}

// crashSender sends crashPerConn messages that get a 250, redialling after a
// broken connection (the crash). A message whose reply was lost is sent
// again under a new ID and not counted: its fate is unknown.
func crashSender(r *relay, round, conn int, accepted func(id, qid string)) error {
	var c *smtp.Client
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	deadline := time.Now().Add(2 * time.Minute)
	seq := 0
	for done := 0; done < crashPerConn; {
		if time.Now().After(deadline) {
			return fmt.Errorf("sender %d: %d of %d messages accepted before the deadline", conn, done, crashPerConn)
		}
		if c == nil {
			var err error
			if c, err = r.dial(userFull, conn%2 == 1); err != nil {
				c = nil
				time.Sleep(20 * time.Millisecond) // the relay is down or starting
				continue
			}
		}
		id := fmt.Sprintf("crash-%d-%d-%d", round, conn, seq)
		seq++
		rcpt := fmt.Sprintf("user%d@example.net", conn)
		if conn%3 == 0 {
			rcpt = fmt.Sprintf("user%d@example.com", conn)
		}
		msg := message{From: "notifications@example.org", To: rcpt, Subject: "crash " + id,
			TestID: id, Body: strings.Repeat("crash test body line\n", 20)}.bytes()
		qid, err := testkit.Send(c, "notifications@example.org", []string{rcpt}, msg, nil)
		if err == nil {
			accepted(id, qid)
			done++
			continue
		}
		var smtpErr *smtp.SMTPError
		if errors.As(err, &smtpErr) && smtpErr.Code/100 == 5 {
			return fmt.Errorf("sender %d: %s refused: %w", conn, id, err)
		}
		// A broken connection or a 4xx while the relay goes down: start
		// over on a new connection.
		c.Close()
		c = nil
	}
	c.Quit()
	return nil
}
