package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"

	"dkimrelay/config"
	"dkimrelay/control"
)

// callQueue sends one queue command to the running relay.
func callQueue(e *env, command string, args, out any) error {
	return withControl(e, func(ctx context.Context, socket string) error {
		return control.Call(ctx, socket, command, args, out)
	})
}

// withControl runs fn with the control socket of the configured relay.
func withControl(e *env, fn func(ctx context.Context, socket string) error) error {
	cfg, err := config.Load(e.configPath)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if cfg.Cluster.Enabled() {
		return withClusterQueue(ctx, cfg, fn)
	}
	return fn(ctx, cfg.ControlSocket())
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func runQueueList(e *env, args []string) error {
	fs := newFlags(e, "queue list")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	if *asJSON {
		// The relay's answer goes out as it comes, compact: decoding and
		// indenting it again would triple the time a queue of 100,000
		// messages takes to list.
		bw := bufio.NewWriterSize(e.stdout, 64<<10)
		if err := withControl(e, func(ctx context.Context, socket string) error {
			return control.CallStream(ctx, socket, "queue.list", nil, bw)
		}); err != nil {
			return err
		}
		bw.WriteString("\n")
		return bw.Flush()
	}
	var list []control.QueueMessage
	if err := callQueue(e, "queue.list", nil, &list); err != nil {
		return err
	}
	if len(list) == 0 {
		fmt.Fprintln(e.stdout, "The queue is empty.")
		return nil
	}
	now := time.Now()
	waiting := 0
	for _, m := range list {
		writeQueueMessage(e.stdout, m, now)
		for _, r := range m.Rcpts {
			if r.Waiting() {
				waiting++
			}
		}
	}
	fmt.Fprintf(e.stdout, "%s in the queue, %s waiting.\n", plural(len(list), "message"), plural(waiting, "recipient"))
	return nil
}

func runQueueShow(e *env, args []string) error {
	fs := newFlags(e, "queue show")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	var m control.QueueMessage
	if err := callQueue(e, "queue.show", control.QueueArgs{QID: pos[0]}, &m); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, m)
	}
	writeQueueMessage(e.stdout, m, time.Now())
	fmt.Fprintf(e.stdout, "\nHeader (as sent, DKIM-Signature first):\n\n%s", sanitize(m.Headers, true))
	return nil
}

func runQueueRetry(e *env, args []string) error {
	fs := newFlags(e, "queue retry")
	all := fs.Bool("all", false, "every queued message")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args, 0, 1)
	if err != nil {
		return err
	}
	a := control.QueueArgs{All: *all}
	switch {
	case *all && len(pos) == 1:
		return usagef("queue retry takes a queue ID or --all, not both")
	case !*all && len(pos) == 0:
		return usagef("queue retry needs a queue ID or --all")
	case !*all:
		a.QID = pos[0]
	}
	var res control.QueueRetried
	if err := callQueue(e, "queue.retry", a, &res); err != nil {
		return err
	}
	switch {
	case *asJSON:
		return printJSON(e.stdout, res)
	case *all:
		fmt.Fprintf(e.stdout, "%s due now; the relay is trying them.\n", plural(res.Messages, "message"))
	default:
		fmt.Fprintf(e.stdout, "%s is due now; the relay is trying it (follow with `dkimrelay logs --id %s --follow`).\n", a.QID, a.QID)
	}
	return nil
}

func runQueueDelete(e *env, args []string) error {
	fs := newFlags(e, "queue delete")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	var m control.QueueMessage
	if err := callQueue(e, "queue.delete", control.QueueArgs{QID: pos[0]}, &m); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, m)
	}
	var pending []string
	for _, r := range m.Rcpts {
		if r.Waiting() {
			pending = append(pending, r.Addr)
		}
	}
	fmt.Fprintf(e.stdout, "Deleted %s; no bounce was sent.", m.QID)
	if len(pending) > 0 {
		fmt.Fprintf(e.stdout, " Not delivered to: %s.", strings.Join(pending, ", "))
	}
	fmt.Fprintln(e.stdout)
	return nil
}

// writeQueueMessage prints one message: a line about it, then one line
// per recipient with where its delivery stands and the last reply.
func writeQueueMessage(w io.Writer, m control.QueueMessage, now time.Time) {
	from := "<" + m.From + ">"
	fmt.Fprintf(w, "%s  age %s  from %s", m.QID, fmtAge(now.Sub(m.Received)), sanitize(from, false))
	if m.User != "" {
		fmt.Fprintf(w, "  user %s", sanitize(m.User, false))
	}
	if m.Class != "" {
		fmt.Fprintf(w, "  %s", sanitize(m.Class, false))
	}
	fmt.Fprintf(w, "  %s\n", fmtSize(m.Size))
	// Columns are aligned by hand: the reply lines between the
	// recipients would break a tabwriter's columns.
	type row struct{ addr, state, attempts, next, reply string }
	rows := make([]row, len(m.Rcpts))
	var wa, ws, wn int
	for i, r := range m.Rcpts {
		next := ""
		if r.NextAttempt != nil {
			if d := r.NextAttempt.Sub(now); d > 0 {
				next = fmt.Sprintf("next attempt %s (in %s)", r.NextAttempt.Local().Format("2006-01-02 15:04:05"), fmtAge(d))
			} else {
				next = "next attempt now"
			}
		}
		rows[i] = row{sanitize(r.Addr, false), r.State, plural(r.Attempts, "attempt"), next, sanitize(r.LastReply, false)}
		wa, ws, wn = max(wa, len(rows[i].addr)), max(ws, len(r.State)), max(wn, len(rows[i].attempts))
	}
	for _, r := range rows {
		line := fmt.Sprintf("    %-*s  %-*s  %-*s  %s", wa, r.addr, ws, r.state, wn, r.attempts, r.next)
		fmt.Fprintln(w, strings.TrimRight(line, " "))
		if r.reply != "" {
			fmt.Fprintf(w, "      last reply: %s\n", r.reply)
		}
	}
}

// sanitize makes text from outside (a remote server's reply, a header)
// safe for a terminal: control characters are shown escaped, never sent.
func sanitize(s string, multiline bool) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case multiline && r == '\n', r == '\t':
			b.WriteRune(r)
		case multiline && r == '\r':
		case unicode.IsControl(r) || r == unicode.ReplacementChar:
			fmt.Fprintf(&b, "\\x%02x", r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// fmtAge writes a duration the way an administrator reads a queue: to
// the second under a minute, then minutes, hours and days.
func fmtAge(d time.Duration) string {
	d = max(d, 0)
	switch {
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < time.Hour:
		d = d.Round(time.Second)
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 24*time.Hour:
		d = d.Round(time.Minute)
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	d = d.Round(time.Hour)
	return fmt.Sprintf("%dd%02dh", int(d.Hours())/24, int(d.Hours())%24)
}

func fmtSize(n int64) string {
	switch {
	case n < 1000:
		return fmt.Sprintf("%d bytes", n)
	case n < 1000*1000:
		return fmt.Sprintf("%.1f kB", float64(n)/1000)
	}
	return fmt.Sprintf("%.1f MB", float64(n)/1e6)
}
