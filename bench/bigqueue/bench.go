package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// options are the bench's flags.
type options struct {
	n        int           // messages in the queue
	bin      string        // folder with dkimrelay and relaysink; "": build them
	keep     bool          // keep the work folder
	portBase int           // relay on portBase, sink on portBase+1; 0: free ports
	size     int           // bytes of the message
	timeout  time.Duration // for the delivery of the whole queue
	progress io.Writer     // one line per step
}

// Issue 7's targets.
const (
	targetReady = 5 * time.Second
	targetList  = 2 * time.Second
)

// stopGrace is how long a process has after SIGTERM. The relay drains
// for up to 30 s (relay.drainTimeout); the bench's own sessions are
// closed by then.
const stopGrace = 40 * time.Second

// bench is one run: its folder, ports and processes.
type bench struct {
	opts      options
	work      string
	bin       string
	files     relayFiles
	dr        cli
	relayAddr string
	sinkPort  int
	procs     procSet
}

const user = "bench"

func (b *bench) say(format string, a ...any) {
	if b.opts.progress != nil {
		fmt.Fprintf(b.opts.progress, "== "+format+"\n", a...)
	}
}

// run does the whole measurement and returns its figures. Every process it
// started is stopped and, unless opts.keep, its folder removed, however it
// ends.
func run(ctx context.Context, opts options) (res *Result, err error) {
	if opts.n < 1 {
		return nil, errors.New("-n must be at least 1")
	}
	work, err := os.MkdirTemp("", "dkimrelay-bigqueue.")
	if err != nil {
		return nil, err
	}
	b := &bench{opts: opts, work: work, files: newRelayFiles(work)}
	defer func() {
		b.procs.stopAll(stopGrace)
		if !opts.keep {
			os.RemoveAll(work)
		}
	}()
	if opts.keep {
		b.say("working in %s (kept)", work)
	}
	return b.run(ctx)
}

func (b *bench) run(ctx context.Context) (*Result, error) {
	res := &Result{N: b.opts.n, MessageBytes: b.opts.size, TmpDir: os.TempDir()}
	b.bin = b.opts.bin
	if b.bin == "" {
		b.bin = filepath.Join(b.work, "bin")
		b.say("building dkimrelay and relaysink")
		if err := build(ctx, b.bin); err != nil {
			return nil, err
		}
	}
	if err := checkBinaries(b.bin); err != nil {
		return nil, err
	}
	relayPort, sinkPort, err := ports(b.opts.portBase)
	if err != nil {
		return nil, err
	}
	b.relayAddr, b.sinkPort = "127.0.0.1:"+strconv.Itoa(relayPort), sinkPort
	b.dr = cli{bin: filepath.Join(b.bin, "dkimrelay"), config: b.files.config}

	b.say("setting up the relay in %s (smarthost 127.0.0.1:%d, nothing listening there)", b.files.dir, sinkPort)
	password := newPassword()
	if err := setupRelay(ctx, b.dr.bin, b.files, relayPort, sinkPort, user, password); err != nil {
		return nil, err
	}

	// One real message, deferred because the destination is down.
	b.say("first start; submitting one message")
	relay, ready, err := b.startRelay(ctx, "1")
	if err != nil {
		return nil, err
	}
	res.EmptyReadyS = ready.Seconds()
	tail := tailFromEnd(b.files.log)
	qid, err := submit(b.relayAddr, user, password, message(b.opts.size, time.Now()))
	if err != nil {
		return nil, err
	}
	if err := b.waitDeferred(ctx, tail, qid); err != nil {
		return nil, err
	}
	if err := relay.stop(stopGrace); err != nil {
		return nil, fmt.Errorf("stopping the relay: %w", err)
	}

	b.say("copying message %s into a queue of %d", qid, b.opts.n)
	t := time.Now()
	if err := replicate(ctx, b.files.queue, qid, b.opts.n); err != nil {
		return nil, err
	}
	res.CopyS = time.Since(t).Seconds()
	t = time.Now()
	syscall.Sync()
	res.SyncS = time.Since(t).Seconds()

	// Two restarts: the first as the copies left the page cache, the
	// second at once after it, with every queue file just read (a service
	// restarted twice in a row, the warmest case).
	b.say("restart with %d messages waiting", b.opts.n)
	res.LoadAvg = loadAvg()
	res.CachedBefore = cachedFraction(b.files.queue, qid, b.opts.n)
	relay, err = b.restart(ctx, "2", &res.First)
	if err != nil {
		return nil, err
	}
	if err := relay.stop(stopGrace); err != nil {
		return nil, fmt.Errorf("stopping the relay: %w", err)
	}
	b.say("restart again at once")
	res.CachedAgain = cachedFraction(b.files.queue, qid, b.opts.n)
	tail = tailFromEnd(b.files.log)
	relay, err = b.restart(ctx, "3", &res.Again)
	if err != nil {
		return nil, err
	}
	res.RSSReadyMB = statusMB(relay, "VmRSS")

	b.say("timing `queue list --json` 3 times")
	for range 3 {
		r, err := timeQueueList(ctx, b.dr)
		if err != nil {
			return nil, err
		}
		if err := checkListed(r.messages, b.opts.n); err != nil {
			return nil, err
		}
		res.ListS = append(res.ListS, r.seconds)
		res.Listed, res.ListBytes = len(r.messages), r.bytes
	}
	res.ListMedianS = median(res.ListS)
	st, err := timeSocket(ctx, b.files.config)
	if err != nil {
		return nil, err
	}
	res.SocketFirstByteS, res.SocketTotalS, res.SocketBytes = st.firstByte.Seconds(), st.total.Seconds(), st.bytes
	res.RSSListedMB = statusMB(relay, "VmRSS")

	if err := b.deliver(ctx, relay, tail, res); err != nil {
		return nil, err
	}
	res.PeakRSSMB = statusMB(relay, "VmHWM")
	if err := relay.stop(stopGrace); err != nil {
		return nil, fmt.Errorf("stopping the relay: %w", err)
	}
	res.judge()
	return res, nil
}

// startRelay starts `dkimrelay serve` and returns once its submission
// port greets, with the time from the process's start to that greeting.
func (b *bench) startRelay(ctx context.Context, run string) (*proc, time.Duration, error) {
	out, err := os.Create(filepath.Join(b.work, "serve"+run+".out"))
	if err != nil {
		return nil, 0, err
	}
	defer out.Close() // the child has its own descriptor
	cmd := exec.Command(b.dr.bin, "--config", b.files.config, "serve")
	cmd.Stdout, cmd.Stderr = out, out
	p, err := b.procs.start("dkimrelay serve", cmd)
	if err != nil {
		return nil, 0, err
	}
	at, err := waitGreeting(ctx, b.relayAddr, p, 2*time.Minute)
	if err != nil {
		text, _ := os.ReadFile(out.Name())
		return nil, 0, fmt.Errorf("%w; its output: %s", err, text)
	}
	return p, at.Sub(p.started), nil
}

// waitDeferred waits for the relay's first attempt at message qid to be
// logged as deferred (nothing listens at the smarthost), then checks that
// `queue list --json` shows it deferred.
func (b *bench) waitDeferred(ctx context.Context, tail *logTail, qid string) error {
	deadline := time.Now().Add(time.Minute)
	for {
		lines, err := tail.lines()
		if err != nil {
			return err
		}
		for _, l := range lines {
			var e struct {
				Msg string `json:"msg"`
				QID string `json:"qid"`
			}
			if json.Unmarshal(l, &e) == nil && e.QID == qid {
				switch e.Msg {
				case "deferred":
					r, err := timeQueueList(ctx, b.dr)
					if err != nil {
						return err
					}
					if err := checkListed(r.messages, 1); err != nil {
						return err
					}
					if r.messages[0].QID != qid || r.messages[0].Rcpts[0].Attempts != 1 {
						return fmt.Errorf("`queue list --json` shows %+v, want %s after one attempt", r.messages[0], qid)
					}
					return nil
				case "delivered", "bounced", "expired":
					return fmt.Errorf("message %s was %s; the destination should be down", qid, e.Msg)
				}
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the relay logged no deferral of %s within a minute; see %s", qid, b.files.log)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// restart starts the relay on the large queue and records when it greeted
// and when it logged started and queue_loaded, counted from the process's
// start. The relay loads the queue in the background, after it starts
// listening, so queue_loaded may come well after the greeting.
func (b *bench) restart(ctx context.Context, run string, r *Restart) (*proc, error) {
	tail := tailFromEnd(b.files.log)
	relay, ready, err := b.startRelay(ctx, run)
	if err != nil {
		return nil, err
	}
	r.ReadyS = ready.Seconds()
	deadline := time.Now().Add(2 * time.Minute)
	for r.StartedLogS == 0 || r.LoadedLogS == 0 {
		lines, err := tail.lines()
		if err != nil {
			return relay, err
		}
		for _, l := range lines {
			e, err := parseEvent(l)
			if err != nil {
				return relay, err
			}
			switch e.Msg {
			case "queue_loaded":
				r.LoadedLogS = e.Time.Sub(relay.started).Seconds()
				r.Loaded = e.Messages
			case "started":
				r.StartedLogS = e.Time.Sub(relay.started).Seconds()
			}
		}
		if r.StartedLogS == 0 || r.LoadedLogS == 0 {
			if time.Now().After(deadline) {
				return relay, fmt.Errorf("the relay greets but logged no \"started\" and \"queue_loaded\" events within 2 minutes in %s", b.files.log)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if r.Loaded != b.opts.n {
		return relay, fmt.Errorf("the relay loaded %d messages, want %d; see %s", r.Loaded, b.opts.n, b.files.log)
	}
	return relay, nil
}

// deliver starts the sink at the smarthost's address, makes every message
// due with `queue retry --all`, and waits until the relay has logged every
// delivery. relaysink counts duplicates by Message-ID, and every copy has
// the original's: so it runs without -n (it would wait for N distinct IDs
// in vain) and is stopped once the relay's log shows N deliveries, which
// it logs only after the sink's 250.
func (b *bench) deliver(ctx context.Context, relay *proc, tail *logTail, res *Result) error {
	b.say("destination back: relaysink on 127.0.0.1:%d, then `queue retry --all`", b.sinkPort)
	out := filepath.Join(b.work, "sink.json")
	errf, err := os.Create(filepath.Join(b.work, "sink.err"))
	if err != nil {
		return err
	}
	defer errf.Close()
	sinkAddr := "127.0.0.1:" + strconv.Itoa(b.sinkPort)
	cmd := exec.Command(filepath.Join(b.bin, "relaysink"), "-listen", sinkAddr, "-records", b.files.records,
		"-tls", "-n", "0", "-timeout", b.opts.timeout.String(), "-out", out)
	cmd.Stderr = errf
	sink, err := b.procs.start("relaysink", cmd)
	if err != nil {
		return err
	}
	if _, err := waitGreeting(ctx, sinkAddr, sink, 30*time.Second); err != nil {
		return err
	}
	tail.lines() // skip the events of the listings

	retried := time.Now()
	stdout, err := b.dr.run(ctx, nil, "queue", "retry", "--all", "--json")
	if err != nil {
		return err
	}
	var r struct {
		Messages int `json:"messages"`
	}
	if err := json.Unmarshal(stdout, &r); err != nil {
		return fmt.Errorf("reading `queue retry --all --json`: %w", err)
	}
	res.Retried = r.Messages
	if r.Messages != b.opts.n {
		return fmt.Errorf("`queue retry --all` made %d messages due, want %d", r.Messages, b.opts.n)
	}
	times, deferred, err := deliveries(ctx, tail, b.opts.n, relay, sink, b.opts.timeout)
	res.Delivered, res.DeferredAfterRetry = len(times), deferred
	if err != nil {
		return err
	}
	// Give a duplicate delivery, were there one, a moment to arrive.
	time.Sleep(500 * time.Millisecond)
	if err := sink.stop(10 * time.Second); err != nil {
		text, _ := os.ReadFile(errf.Name())
		return fmt.Errorf("relaysink: %w: %s", err, text)
	}
	sum, err := readSinkSummary(out)
	if err != nil {
		return err
	}
	res.SinkArrived, res.SinkVerified, res.SinkFailed, res.SinkDuplicates = sum.Arrived, sum.Verified, sum.Failed, sum.Duplicates
	res.SinkUnique = sum.Unique
	if sum.Arrived != b.opts.n || sum.Verified != b.opts.n {
		return fmt.Errorf("the sink got %d messages, %d verified (first failure: %q), want %d of each", sum.Arrived, sum.Verified, sum.FirstFail, b.opts.n)
	}
	res.DeliveryS = sum.Last.Sub(retried).Seconds()
	res.DeliveredPerS = float64(b.opts.n) / res.DeliveryS
	res.SteadyPerS = steadyRate(times)
	if d := sum.Last.Sub(sum.First).Seconds(); d > 0 {
		res.SinkPerS = float64(sum.Arrived-1) / d
	}
	return nil
}
