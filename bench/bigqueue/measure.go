package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"time"

	"dkimrelay/config"
)

// listed is what the bench checks in `queue list --json` (the shape of
// relay.QueueMessage).
type listed struct {
	QID   string `json:"qid"`
	Rcpts []struct {
		State    string `json:"state"`
		Attempts int    `json:"attempts"`
	} `json:"rcpts"`
}

// listRun is one timed `dkimrelay queue list --json`.
type listRun struct {
	seconds  float64
	messages []listed
	bytes    int
}

// timeQueueList runs `dkimrelay queue list --json` once, its output going
// to a file (as in `queue list --json > queue.json`), and times it from
// fork to exit. The output is read and checked after the timing: a
// reader in this process growing a 34 MB buffer would be timed too, and
// it costs as much as the listing on a small VM.
func timeQueueList(ctx context.Context, dr cli) (listRun, error) {
	out, err := os.CreateTemp("", "bigqueue-list-*.json")
	if err != nil {
		return listRun{}, err
	}
	defer os.Remove(out.Name())
	defer out.Close()
	cmd := exec.CommandContext(ctx, dr.bin, "--config", dr.config, "queue", "list", "--json")
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = out, &stderr
	start := time.Now()
	err = cmd.Run()
	took := time.Since(start)
	if err != nil {
		return listRun{}, fmt.Errorf("dkimrelay queue list --json: %w: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	data, err := os.ReadFile(out.Name())
	if err != nil {
		return listRun{}, err
	}
	r := listRun{seconds: took.Seconds(), bytes: len(data)}
	if err := json.Unmarshal(data, &r.messages); err != nil {
		return listRun{}, fmt.Errorf("reading `queue list --json`: %w", err)
	}
	return r, nil
}

// checkListed checks that a listing holds n distinct messages, each with
// one recipient waiting: deferred after its attempt (or queued, not tried
// yet).
func checkListed(msgs []listed, n int) error {
	if len(msgs) != n {
		return fmt.Errorf("`queue list --json` lists %d messages, want %d", len(msgs), n)
	}
	seen := make(map[string]bool, n)
	for _, m := range msgs {
		if seen[m.QID] {
			return fmt.Errorf("`queue list --json` lists %s twice", m.QID)
		}
		seen[m.QID] = true
		if len(m.Rcpts) != 1 || (m.Rcpts[0].State != "deferred" && m.Rcpts[0].State != "queued") {
			return fmt.Errorf("message %s: want one waiting recipient, have %+v", m.QID, m.Rcpts)
		}
	}
	return nil
}

// socketTiming is a queue.list asked of the control socket directly,
// without the CLI: how long the relay took to answer (first byte) and to
// send it all, so a slow `queue list` can be told apart from a slow relay.
type socketTiming struct {
	firstByte, total time.Duration
	bytes            int64
}

// timeSocket sends the relay's control socket (control's protocol:
// one JSON request, one JSON response) a queue.list.
func timeSocket(ctx context.Context, configPath string) (socketTiming, error) {
	cfg, err := config.Load(configPath)
	if err != nil {
		return socketTiming{}, err
	}
	var d net.Dialer
	start := time.Now()
	c, err := d.DialContext(ctx, "unix", cfg.ControlSocket())
	if err != nil {
		return socketTiming{}, fmt.Errorf("control socket: %w", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Minute))
	if _, err := io.WriteString(c, `{"command":"queue.list"}`+"\n"); err != nil {
		return socketTiming{}, fmt.Errorf("control socket: %w", err)
	}
	var one [1]byte
	if _, err := io.ReadFull(c, one[:]); err != nil {
		return socketTiming{}, fmt.Errorf("control socket: %w", err)
	}
	t := socketTiming{firstByte: time.Since(start)}
	n, err := io.Copy(io.Discard, c)
	if err != nil {
		return socketTiming{}, fmt.Errorf("control socket: %w", err)
	}
	t.total, t.bytes = time.Since(start), n+1
	return t, nil
}

// sinkSummary is the part of relaysink's JSON summary the bench reads.
type sinkSummary struct {
	Arrived    int       `json:"arrived"`
	Unique     int       `json:"unique"`
	Duplicates int       `json:"duplicates"`
	Verified   int       `json:"verified"`
	Failed     int       `json:"dkim_failed"`
	Unsigned   int       `json:"unsigned"`
	FirstFail  string    `json:"first_failure"`
	First      time.Time `json:"first_arrival"`
	Last       time.Time `json:"last_arrival"`
}

func readSinkSummary(path string) (sinkSummary, error) {
	var s sinkSummary
	b, err := os.ReadFile(path)
	if err != nil {
		return s, fmt.Errorf("relaysink wrote no summary: %w", err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("reading relaysink's summary: %w", err)
	}
	return s, nil
}

// deliveries follows the relay's log until n "delivered" events have
// appeared, and returns their times in order. It gives up when ctx ends,
// when the relay or the sink exits, or after timeout.
func deliveries(ctx context.Context, tail *logTail, n int, relay, sink *proc, timeout time.Duration) ([]time.Time, int, error) {
	times := make([]time.Time, 0, n)
	deferred := 0
	deadline := time.Now().Add(timeout)
	for {
		lines, err := tail.lines()
		if err != nil {
			return times, deferred, err
		}
		for _, l := range lines {
			if t, ok := deliveredTime(l); ok {
				times = append(times, t)
			} else if bytes.Contains(l, []byte(`"msg":"deferred"`)) {
				deferred++
			}
		}
		switch {
		case len(times) >= n:
			slices.SortFunc(times, time.Time.Compare)
			return times, deferred, nil
		case relay.exited():
			return times, deferred, fmt.Errorf("the relay exited after %d deliveries: %v", len(times), relay.err)
		case sink.exited():
			return times, deferred, fmt.Errorf("relaysink exited after %d deliveries: %v", len(times), sink.err)
		case time.Now().After(deadline):
			return times, deferred, fmt.Errorf("only %d of %d messages delivered within %s (raise -timeout?)", len(times), n, timeout)
		}
		select {
		case <-ctx.Done():
			return times, deferred, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// steadyRate is the delivery rate between the 10% and the 90% delivery
// (times sorted): the rate once the workers are busy, without the start
// and the tail. It is 0 when there are too few deliveries to tell.
func steadyRate(times []time.Time) float64 {
	if len(times) < 10 {
		return 0
	}
	lo, hi := (len(times)-1)/10, (len(times)-1)*9/10
	d := times[hi].Sub(times[lo]).Seconds()
	if d <= 0 {
		return 0
	}
	return float64(hi-lo) / d
}

// median of a non-empty list.
func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
