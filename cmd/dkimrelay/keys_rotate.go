package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"dkimrelay/config"
	"dkimrelay/keys"
	"dkimrelay/keys/publish"
)

func runKeysRotate(e *env, args []string) error { return keysRotate(e, args, time.Now()) }

// keysRotate is `keys rotate` at the time now, one idempotent step of
// keys.Store.Rotate per key type. With --quiet it prints only when a
// person must act (a record to publish), so that cron mails the
// administrator exactly then; errors are printed either way.
func keysRotate(e *env, args []string, now time.Time) error {
	fs := newFlags(e, "keys rotate")
	domain := fs.String("domain", "", "domain whose keys are rotated")
	alg := fs.String("algorithm", "", "key type to rotate and the new key's algorithm (default: each type the domain signs with, else rsa2048)")
	quiet := fs.Bool("quiet", false, "print only when a person must act (for cron)")
	pub := fs.Bool("publish", false, "publish the new key's record by dynamic DNS update ([keys.publish])")
	startNow := fs.Bool("now", false, "start a new rotation even if the active key is younger than keys.rotate_after")
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	if *domain == "" {
		return usagef("keys rotate needs --domain")
	}
	var a keys.Algorithm
	if *alg != "" {
		var err error
		if a, err = keys.ParseAlgorithm(*alg); err != nil {
			return usagef("%v", err)
		}
	}
	cfg, st, up, err := openKeysPublishing(e, *pub)
	if err != nil {
		return err
	}
	res, err := newResolver(cfg)
	if err != nil {
		return err
	}
	warnUnconfigured(e, cfg, *domain)
	warnDamaged(e, st, *domain)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rs, rotateErr := st.Rotate(ctx, *domain, keys.RotateOptions{
		Algorithm:   a,
		RotateAfter: cfg.Keys.RotateAfter,
		StartNow:    *startNow,
		Lookup:      res.LookupTXT,
	}, now)

	p := &rotationPrinter{info: quietEnv(e, *quiet).stdout, act: e.stdout, cfg: cfg, up: up, now: now}
	changed := false
	var errs []error
	for _, r := range rs {
		c, err := p.print(r)
		changed = changed || c
		if err != nil {
			errs = append(errs, err)
		}
	}
	if changed {
		notifyRelay(quietEnv(e, *quiet), cfg)
	}
	if rotateErr != nil {
		errs = append(errs, rotateErr)
	}
	return errors.Join(errs...)
}

// warnDamaged prints the key files of domain the store cannot use: a
// person must repair them, so they are printed even with --quiet.
func warnDamaged(e *env, st *keys.Store, domain string) {
	_, errs := st.List()
	for _, err := range errs {
		var de *keys.DamageError
		if errors.As(err, &de) && !strings.EqualFold(de.Domain, strings.TrimSuffix(domain, ".")) {
			continue
		}
		fmt.Fprintln(e.stderr, "warning:", err)
	}
}

// rotationPrinter says what a rotation step did: info for what needs
// nobody, act for what a person must do.
type rotationPrinter struct {
	info, act io.Writer
	cfg       *config.Config
	up        *publish.Updater
	now       time.Time
}

// print reports r, publishing the record of a new or unpublished key
// with --publish. It reports whether the store changed.
func (p *rotationPrinter) print(r keys.Rotation) (changed bool, err error) {
	for _, k := range r.Stale {
		fmt.Fprintf(p.info, "Note: pending key %s of %s is older than the key that signs, so rotation ignores it; drop it with `dkimrelay keys remove --domain %s --selector %s`.\n",
			k.Selector, k.Domain, k.Domain, k.Selector)
	}
	k := r.Key
	switch r.Step {
	case keys.StepNone:
		a := r.Previous
		fmt.Fprintf(p.info, "Nothing to do for %s (%s): key %s signs since %s; the next rotation starts after %s (keys.rotate_after: %s).\n",
			r.Domain, r.KeyType, a.Selector, keyTime(a.Activated), keyTime(r.Due), keyDays(p.cfg.Keys.RotateAfter))
		return false, nil

	case keys.StepGenerated:
		fmt.Fprintf(p.info, "Started a rotation for %s (%s): %s.\n", r.Domain, r.KeyType, p.reason(r))
		if p.up != nil {
			if err := publishKey(p.up, k); err != nil {
				fmt.Fprintf(p.act, "Generated %s key %s for %s (pending), but publishing its DNS record failed. Publish it by hand, or run this command again:\n", k.Algorithm, k.Selector, k.Domain)
				return true, errors.Join(printKeyZone(p.act, k), err)
			}
			fmt.Fprintf(p.info, "Generated %s key %s (pending) and published its DNS record at %s. Once DNS serves it, the next `dkimrelay keys rotate` activates the key.\n",
				k.Algorithm, k.Selector, p.up.Server())
			return true, nil
		}
		fmt.Fprintf(p.act, "Generated %s key %s for %s (pending). Publish this DNS record; once DNS serves it, the next `dkimrelay keys rotate --domain %s` activates the key:\n",
			k.Algorithm, k.Selector, k.Domain, k.Domain)
		return true, printKeyZone(p.act, k)

	case keys.StepWaiting:
		if r.Check.State == keys.DNSError {
			return false, fmt.Errorf("could not ask DNS about pending key %s of %s: %s", k.Selector, k.Domain, r.Check.Detail)
		}
		if p.up != nil {
			// The record is missing or wrong: an earlier update was lost,
			// or someone changed it. Writing it again is idempotent.
			if err := publishKey(p.up, k); err != nil {
				fmt.Fprintf(p.act, "Key %s for %s is pending and DNS does not serve it (%s), and publishing its record failed. Publish it by hand, or run this command again:\n", k.Selector, k.Domain, r.Check.Problem)
				return false, errors.Join(printKeyZone(p.act, k), err)
			}
			fmt.Fprintf(p.info, "Key %s for %s is pending and DNS does not serve it yet (%s); published its record again at %s. Once DNS serves it, the next `dkimrelay keys rotate` activates the key.\n",
				k.Selector, k.Domain, r.Check.Problem, p.up.Server())
			return false, nil
		}
		fmt.Fprintf(p.act, "Key %s for %s is pending, but DNS does not serve it yet (%s). Publish this record; once DNS serves it, the next `dkimrelay keys rotate --domain %s` activates the key:\n",
			k.Selector, k.Domain, r.Check.Problem, k.Domain)
		return false, printKeyZone(p.act, k)

	case keys.StepActivated:
		fmt.Fprintf(p.info, "Activated key %s (%s) for %s: DNS serves its record, and new mail is signed with it.\n", k.Selector, k.Algorithm, k.Domain)
		prune := "`dkimrelay keys prune` removes it and prints the record to delete"
		if p.up != nil {
			prune = "`dkimrelay keys prune --publish` removes it and deletes the record"
		}
		for _, old := range r.Retired {
			fmt.Fprintf(p.info, "Key %s is retiring: its DNS record must stay until %s (keys.retire_after: %s); after that, %s.\n",
				old.Selector, keyTime(old.RemovableAfter(p.cfg.Keys.RetireAfter)), keyDays(p.cfg.Keys.RetireAfter), prune)
		}
		return true, nil
	}
	return false, fmt.Errorf("keys rotate: unknown step %q", r.Step)
}

func (p *rotationPrinter) reason(r keys.Rotation) string {
	a := r.Previous
	switch r.Reason {
	case keys.ReasonNoActive:
		return fmt.Sprintf("it has no active %s key", r.KeyType)
	case keys.ReasonAge:
		return fmt.Sprintf("key %s has signed since %s, longer than keys.rotate_after (%s)", a.Selector, keyTime(a.Activated), keyDays(p.cfg.Keys.RotateAfter))
	case keys.ReasonForced:
		return fmt.Sprintf("--now was given (key %s signs since %s)", a.Selector, keyTime(a.Activated))
	case keys.ReasonAlgorithm:
		return fmt.Sprintf("key %s is %s and %s was asked for", a.Selector, a.Algorithm, r.Key.Algorithm)
	}
	return string(r.Reason)
}
