// Command bigqueue measures the dkimrelay binary with a large queue
// waiting while its destination is down, against the performance goals (bench/NOTES.md): with
// 100,000 messages waiting, a restart is ready to accept in under 5 s,
// `dkimrelay queue list --json` answers in under 2 s, and delivery runs at
// full speed once the destination returns.
//
//	go run ./bench/bigqueue -n 100000
//
// It builds dkimrelay and relaysink, sets a relay up as bench/compare.sh
// does (smarthost mode, the smarthost down), submits one real message over
// STARTTLS and AUTH PLAIN, stops the relay once the message is deferred,
// copies the message's queue files under N-1 new queue IDs, and then times
// the restart to the first 220 greeting, three `queue list --json`, and
// the delivery of the whole queue to relaysink after `queue retry --all`.
// Everything runs on loopback in one temporary folder, removed at the end
// unless -keep; every process it starts is stopped however it ends.
//
// Exit status: 0 when the measurement ran (whether or not the targets were
// met; the table says), 1 when it could not, 2 for a usage error.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	os.Exit(mainRun(os.Args[1:], os.Stdout, os.Stderr))
}

func mainRun(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bigqueue", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := options{progress: stderr}
	fs.IntVar(&o.n, "n", 100000, "messages in the queue")
	fs.StringVar(&o.bin, "bin", "", "folder holding dkimrelay and relaysink (default: build them)")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary folder (config, queue, logs)")
	fs.IntVar(&o.portBase, "port-base", 10700, "the relay listens on this loopback port, the sink on the next (0: any free ports)")
	fs.IntVar(&o.size, "size", 4096, "bytes of the message")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Minute, "give up on the delivery after this long")
	asJSON := fs.Bool("json", false, "print the figures as one JSON object")
	quiet := fs.Bool("quiet", false, "print no progress lines")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 || o.n < 1 || o.size < 512 || o.portBase < 0 || o.portBase > 65534 || o.timeout <= 0 {
		fmt.Fprintln(stderr, "bigqueue: give -n of at least 1, -size of at least 512, -port-base from 0 to 65534 and a positive -timeout, and no other arguments")
		return 2
	}
	if *quiet {
		o.progress = nil
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	res, err := run(ctx, o)
	if err != nil && ctx.Err() != nil {
		fmt.Fprintln(stderr, "bigqueue: interrupted; every process it started is stopped")
		return 1
	}
	if err != nil {
		fmt.Fprintf(stderr, "bigqueue: %v (rerun with -keep to look at the relay's folder and logs)\n", err)
		return 1
	}
	if *asJSON {
		err = res.writeJSON(stdout)
	} else {
		err = res.writeTable(stdout)
	}
	if err != nil {
		fmt.Fprintln(stderr, "bigqueue:", err)
		return 1
	}
	return 0
}
