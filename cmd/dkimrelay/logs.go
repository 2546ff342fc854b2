package main

import (
	"context"
	"fmt"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"dkimrelay/config"
	"dkimrelay/events"
	"dkimrelay/logview"
)

func runLogs(e *env, args []string) error {
	fs := newFlags(e, "logs")
	id := fs.String("id", "", "only this message (queue ID): its whole life, in order")
	rcpt := fs.String("rcpt", "", "only events naming this recipient address")
	var status stringList
	fs.Var(&status, "status", "only these events: accepted, delivered, deferred, bounced, expired, deleted, rejected, auth, ... (repeatable or comma-separated)")
	since := fs.String("since", "", "only events newer than this: a duration (90m, 24h) or a time (2026-11-02, 2026-11-02T15:04:05Z)")
	follow := fs.Bool("follow", false, "keep printing new events as they are logged, across log rotations")
	asJSON := fs.Bool("json", false, "print the raw JSON events")
	file := fs.String("file", "", "read this log file instead of the config's log.file (\"-\": standard input)")
	utc := fs.Bool("utc", false, "show times in UTC instead of the local time zone")
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	f := logview.Filter{QID: *id, Rcpt: strings.Trim(*rcpt, "<>")}
	for _, s := range status {
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				f.Status = append(f.Status, p)
				if !events.Known(p) {
					fmt.Fprintf(e.stderr, "warning: no event is named %q; the events are %s\n", p, strings.Join(events.Names(), ", "))
				}
			}
		}
	}
	if *since != "" {
		t, err := parseSince(*since, time.Now())
		if err != nil {
			return usagef("logs --since: %v", err)
		}
		f.Since = t
	}
	path := *file
	// With a cluster, a message's story is in the database: every relay's
	// events, whichever accepted and delivered it.
	clustered := false
	var cfg *config.Config
	if path == "" {
		var err error
		cfg, err = config.Load(e.configPath)
		if err != nil {
			return err
		}
		clustered = cfg.Cluster.Enabled() && f.QID != "" && !*follow
		if cfg.Log.File == "" && !clustered {
			return fmt.Errorf("log.file is not set in %s, so the relay logs to stderr: set log.file, or pipe the log in (journalctl -u dkimrelay -o cat | dkimrelay logs --file -)", cfg.Path)
		}
		path = cfg.Log.File
	}
	if *follow && path == "-" {
		return usagef("logs --follow needs a file, not standard input")
	}
	loc := time.Local
	if *utc {
		loc = time.UTC
	}
	r := &logview.Reader{
		Path:   path,
		Filter: f,
		Emit: func(ev *logview.Event) error {
			var err error
			if *asJSON {
				_, err = fmt.Fprintf(e.stdout, "%s\n", ev.Raw)
			} else {
				_, err = fmt.Fprintln(e.stdout, logview.Format(ev, loc))
			}
			return err
		},
		Warn: func(s string) { fmt.Fprintln(e.stderr, "warning:", s) },
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var err error
	switch {
	case clustered:
		err = readClusterStory(ctx, cfg, f.QID, r)
		path = "the cluster database"
	case path == "-":
		err = r.ReadFrom(ctx, e.stdin)
	case *follow:
		err = r.Follow(ctx)
	default:
		err = r.Read(ctx)
	}
	if r.Skipped > 0 {
		fmt.Fprintf(e.stderr, "%d damaged or foreign line(s) skipped.\n", r.Skipped)
	}
	if err != nil {
		return err
	}
	if r.Matched == 0 && !*follow {
		// Like grep: nothing found is exit 1, so a script can ask
		// "was it delivered?" with `logs --id QID --status delivered`.
		return fmt.Errorf("no matching events in %s%s", describeSource(path), hint(f))
	}
	return nil
}

func describeSource(path string) string {
	switch path {
	case "-":
		return "standard input"
	case "the cluster database":
		return path
	}
	return path + " and its rotated files"
}

func hint(f logview.Filter) string {
	if f.QID != "" {
		return ": check the queue ID (`dkimrelay queue list` shows the queued ones), or widen --since"
	}
	return ": widen the filters"
}

// parseSince reads --since: a duration back from now, in Go syntax plus
// "d" for days ("2d"), or an absolute time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	if n, ok := strings.CutSuffix(s, "d"); ok {
		if d, err := time.ParseDuration(n + "h"); err == nil {
			return now.Add(-24 * d), nil
		}
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is neither a duration (90m, 24h, 2d) nor a time (2026-11-02 or 2026-11-02T15:04:05Z)", s)
}
