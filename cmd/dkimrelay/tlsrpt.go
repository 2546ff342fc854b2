package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"dkimrelay/config"
	"dkimrelay/control"
)

// runTLSRPTSend asks the running relay to send the TLS reports gathered
// so far, as its daily run does, and says which went where.
func runTLSRPTSend(e *env, args []string) error {
	fs := newFlags(e, "tlsrpt send")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	cfg, err := config.Load(e.configPath)
	if err != nil {
		return err
	}
	var sent []control.TLSReportSent
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := control.Call(ctx, cfg.ControlSocket(), "tlsrpt-send", nil, &sent); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, sent)
	}
	if len(sent) == 0 {
		fmt.Fprintln(e.stdout, "no sessions counted since the last report")
	}
	for _, s := range sent {
		if s.Skipped != "" {
			fmt.Fprintf(e.stdout, "%s: %d sessions, no report: %s\n", s.Domain, s.Sessions, s.Skipped)
			continue
		}
		fmt.Fprintf(e.stdout, "%s: %d sessions, report queued as %s to %s\n", s.Domain, s.Sessions, s.QID, strings.Join(s.To, ", "))
	}
	return nil
}
