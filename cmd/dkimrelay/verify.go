package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"dkimrelay/config"
	"dkimrelay/keys"
	"dkimrelay/verify"
)

// maxVerifyInput bounds what verify reads: a received message with room
// to spare over submission.max_message_size's default.
const maxVerifyInput = 64 << 20

func runVerify(e *env, args []string) error {
	fs := newFlags(e, "verify")
	ip := fs.String("ip", "", "address the message came from (default: from its Received-SPF: or Received: fields)")
	mailFrom := fs.String("mail-from", "", "envelope sender (default: its Return-Path: field)")
	offline := fs.Bool("offline", false, "no DNS: DKIM keys come from this relay's key store; SPF and DMARC are skipped")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	env := verify.Envelope{}
	if *ip != "" {
		if env.IP, err = verify.ParseIP(*ip); err != nil {
			return usagef("--ip: %v", err)
		}
	}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "mail-from" {
			env.MailFrom, env.MailFromSet = *mailFrom, true
		}
	})
	v, err := newVerifier(e, *offline)
	if err != nil {
		return err
	}
	data, err := readMessage(e, pos[0])
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	report, err := v.Check(ctx, data, env)
	if err != nil {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	if err := printReport(e, report, *asJSON); err != nil {
		return err
	}
	if report.Failed() {
		return errors.New("a check failed: the lines above say why and what to change")
	}
	return nil
}

// newVerifier uses the config's DNS settings when there is a config, the
// system resolver otherwise.
func newVerifier(e *env, offline bool) (*verify.Verifier, error) {
	cfg := config.Defaults()
	loaded := false
	if _, err := os.Stat(e.configPath); err == nil || e.configExplicit || offline {
		if cfg, err = config.Load(e.configPath); err != nil {
			return nil, err
		}
		loaded = true
	}
	v := &verify.Verifier{Hostname: cfg.Hostname}
	if _, err := os.Stat(cfg.KeysDir()); loaded && err == nil && !offline {
		// The relay's own keys, where this user may read them, tell an
		// Ed25519 key mismatch from a changed header.
		if st, err := keys.Open(cfg.KeysDir()); err == nil {
			list, _ := st.List()
			v.OwnKeys = verify.StoreLookup(list)
		}
	}
	if offline {
		st, err := keys.Open(cfg.KeysDir())
		if err != nil {
			return nil, err
		}
		list := listKeys(e, st)
		v.KeyLookup = verify.StoreLookup(list)
		return v, nil
	}
	res, err := newResolver(cfg)
	if err != nil {
		return nil, err
	}
	v.Resolver = res
	return v, nil
}

func readMessage(e *env, name string) ([]byte, error) {
	var r io.Reader = e.stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("reading the message: %w", err)
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, maxVerifyInput+1))
	if err != nil {
		return nil, fmt.Errorf("reading the message: %w", err)
	}
	if len(data) > maxVerifyInput {
		return nil, fmt.Errorf("the message is larger than %d MiB: is %s really one message?", maxVerifyInput>>20, name)
	}
	return data, nil
}

// printableReport is the result of `check` or `verify`, printed as text or JSON.
type printableReport interface {
	WriteJSON(io.Writer) error
	WriteText(io.Writer) error
}

// printReport prints r on standard output, as JSON when asJSON.
func printReport(e *env, r printableReport, asJSON bool) error {
	if asJSON {
		return r.WriteJSON(e.stdout)
	}
	return r.WriteText(e.stdout)
}
