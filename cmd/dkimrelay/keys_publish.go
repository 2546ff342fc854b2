package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"dkimrelay/config"
	"dkimrelay/keys"
	"dkimrelay/keys/publish"
)

// newUpdater prepares the dynamic DNS updates of --publish from the
// [keys.publish] table.
func newUpdater(cfg *config.Config) (*publish.Updater, error) {
	p := cfg.Keys.Publish
	if !p.Enabled() {
		return nil, fmt.Errorf("--publish needs a [keys.publish] table in %s naming the primary DNS server and a TSIG key: add one (see the README's key rotation section) or publish the records by hand", cfg.Path)
	}
	secret, err := publish.ReadSecret(p.TSIGSecretFile)
	if err != nil {
		return nil, err
	}
	return publish.New(p, secret)
}

// keyRecord is a key's TXT record as the updater takes it.
func keyRecord(k *keys.Key) (publish.Record, error) {
	v, err := k.RecordValue()
	if err != nil {
		return publish.Record{}, err
	}
	return publish.Record{Domain: k.Domain, Name: k.RecordName(), Value: v}, nil
}

func publishKey(up *publish.Updater, k *keys.Key) error {
	rec, err := keyRecord(k)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return up.Publish(ctx, rec)
}

func deleteKeyRecord(up *publish.Updater, k *keys.Key) error {
	rec, err := keyRecord(k)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return up.Delete(ctx, rec)
}

// printKeyZone prints a key's record in zone-file form after a blank line.
func printKeyZone(w io.Writer, k *keys.Key) error {
	zone, err := k.Zone()
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "\n%s\n", zone)
	return err
}

// quietEnv is e with its informational output discarded (--quiet):
// warnings and errors still reach stderr.
func quietEnv(e *env, quiet bool) *env {
	if !quiet {
		return e
	}
	q := *e
	q.stdout = io.Discard
	return &q
}

// keyDays writes a duration as administrators count it.
func keyDays(d time.Duration) string {
	switch {
	case d == 24*time.Hour:
		return "1 day"
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	}
	return d.String()
}

// keyTime writes a time for people: UTC, to the minute.
func keyTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }
