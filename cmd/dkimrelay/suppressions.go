package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"dkimrelay/config"
	"dkimrelay/suppressions"
)

// openSuppressions opens the suppression list of the config's data dir,
// which the running relay reads too.
func openSuppressions(e *env) (*suppressions.FileStore, error) {
	cfg, err := config.Load(e.configPath)
	if err != nil {
		return nil, err
	}
	return suppressions.OpenFile(cfg.SuppressionsFile())
}

func runSuppressionsList(e *env, args []string) error {
	fs := newFlags(e, "suppressions list")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	store, err := openSuppressions(e)
	if err != nil {
		return err
	}
	list, err := store.List(time.Now())
	if err != nil {
		return err
	}
	if *asJSON {
		if list == nil {
			list = []suppressions.Entry{}
		}
		return printJSON(e.stdout, list)
	}
	if len(list) == 0 {
		fmt.Fprintln(e.stdout, "No address is suppressed.")
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ADDRESS\tREASON\tSINCE\tUNTIL\tREPLY")
	for _, s := range list {
		until := "never (added by hand)"
		if !s.Until.IsZero() {
			until = s.Until.Local().Format("2006-01-02 15:04")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", sanitize(s.Addr, false), sanitize(s.Reason, false),
			s.Created.Local().Format("2006-01-02 15:04"), until, sanitize(s.Reply, false))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s suppressed; `dkimrelay suppressions remove ADDR` lifts one.\n", plural(len(list), "address"))
	return nil
}

func runSuppressionsAdd(e *env, args []string) error {
	fs := newFlags(e, "suppressions add")
	reason := fs.String("reason", "added by the administrator", "why the address gets no mail")
	pos, err := parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	if _, err := suppressions.Key(pos[0]); err != nil {
		return usagef("suppressions add %q: %v", pos[0], err)
	}
	store, err := openSuppressions(e)
	if err != nil {
		return err
	}
	if err := store.Add(suppressions.Entry{Addr: pos[0], Reason: *reason, Created: time.Now()}); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "Suppressed %s until it is removed: mail to it is accepted and not delivered.\n", pos[0])
	return nil
}

func runSuppressionsRemove(e *env, args []string) error {
	fs := newFlags(e, "suppressions remove")
	pos, err := parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	store, err := openSuppressions(e)
	if err != nil {
		return err
	}
	removed, err := store.Remove(pos[0])
	if err != nil {
		return err
	}
	if !removed {
		return fmt.Errorf("%s is not suppressed: see `dkimrelay suppressions list`", pos[0])
	}
	fmt.Fprintf(e.stdout, "%s is no longer suppressed; the messages queued for it are delivered at their next attempt.\n", pos[0])
	return nil
}
