package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"dkimrelay/keys"
)

func runKeysPrune(e *env, args []string) error { return keysPrune(e, args, time.Now()) }

// keysPrune is `keys prune` at the time now. Deleting a DNS record is a
// person's job unless --publish does it, so with --quiet only the records
// left to delete are printed.
func keysPrune(e *env, args []string, now time.Time) error {
	fs := newFlags(e, "keys prune")
	domain := fs.String("domain", "", "only this domain (default: every domain)")
	quiet := fs.Bool("quiet", false, "print only when a person must act (for cron)")
	pub := fs.Bool("publish", false, "delete the pruned keys' records by dynamic DNS update ([keys.publish])")
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	cfg, st, up, err := openKeysPublishing(e, *pub)
	if err != nil {
		return err
	}
	info := quietEnv(e, *quiet).stdout
	grace := cfg.Keys.RetireAfter
	// The store forgets a key before its record is deleted: the other
	// order could delete the record of a key that a concurrent `keys
	// activate` just brought back.
	pruned, pruneErr := st.Prune(*domain, grace, now)
	var errs []error
	for _, k := range pruned {
		what := fmt.Sprintf("Pruned key %s (%s) of %s, retiring since %s (keys.retire_after: %s)",
			k.Selector, k.Algorithm, k.Domain, keyTime(k.Retired), keyDays(grace))
		if up == nil {
			fmt.Fprintf(e.stdout, "%s. Its DNS record may now be deleted:\n", what)
			errs = append(errs, printKeyZone(e.stdout, k))
			continue
		}
		if err := deleteKeyRecord(up, k); err != nil {
			fmt.Fprintf(e.stdout, "%s, but deleting its DNS record failed; delete it by hand:\n", what)
			errs = append(errs, printKeyZone(e.stdout, k), err)
			continue
		}
		fmt.Fprintf(info, "%s, and deleted its DNS record at %s.\n", what, up.Server())
	}
	if len(pruned) == 0 && pruneErr == nil {
		fmt.Fprintf(info, "Nothing to prune: no retiring key has passed keys.retire_after (%s).\n", keyDays(grace))
		list, _ := st.List()
		for _, k := range list {
			if k.State == keys.Retiring && (*domain == "" || sameDomain(k.Domain, *domain)) {
				fmt.Fprintf(info, "Key %s of %s is retiring; it can be pruned after %s.\n", k.Selector, k.Domain, keyTime(k.RemovableAfter(grace)))
			}
		}
	}
	if len(pruned) > 0 {
		notifyRelay(quietEnv(e, *quiet), cfg)
	}
	return errors.Join(append(errs, pruneErr)...)
}

func runKeysRemove(e *env, args []string) error {
	fs := newFlags(e, "keys remove")
	domain := fs.String("domain", "", "domain")
	sel := fs.String("selector", "", "selector of the pending key")
	pub := fs.Bool("publish", false, "also delete its record by dynamic DNS update ([keys.publish])")
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	if *domain == "" || *sel == "" {
		return usagef("keys remove needs --domain and --selector")
	}
	cfg, st, up, err := openKeysPublishing(e, *pub)
	if err != nil {
		return err
	}
	// Read first: the record can be named only while the key exists. A
	// damaged pending key can still be removed, without its record.
	k, getErr := st.Get(*domain, *sel)
	if err := st.Remove(*domain, *sel); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "Removed pending key %s of %s.\n", strings.ToLower(*sel), strings.ToLower(*domain))
	switch {
	case getErr != nil:
	case up != nil:
		if err := deleteKeyRecord(up, k); err != nil {
			fmt.Fprintln(e.stdout, "Deleting its DNS record failed; if it was published, delete it by hand:")
			return errors.Join(printKeyZone(e.stdout, k), err)
		}
		fmt.Fprintf(e.stdout, "Deleted its DNS record at %s.\n", up.Server())
	default:
		fmt.Fprintln(e.stdout, "If its DNS record was published, delete it:")
		if err := printKeyZone(e.stdout, k); err != nil {
			return err
		}
	}
	notifyRelay(e, cfg)
	return nil
}
