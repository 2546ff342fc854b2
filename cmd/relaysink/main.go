// Command relaysink is the receiving MX of dkimrelay's benchmark: an SMTP
// server on loopback that accepts every message, verifies each DKIM
// signature against the key records it is given, and reports arrivals as
// JSON, so the comparison script can compute delivered messages per second
// as N / (last arrival - first submission) for any relay.
//
// It writes its summary to -out when -n distinct messages have arrived, on
// SIGTERM or SIGINT, or when -timeout passes, and then exits: 0 when every
// message verified (or, with -allow-unsigned, carried no signature), 1
// otherwise.
package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"dkimrelay/internal/selfsigned"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	fs := flag.NewFlagSet("relaysink", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:2525", "address to listen on (loopback)")
	records := fs.String("records", "", "file of DKIM TXT records in zone-file form (required)")
	n := fs.Int("n", 0, "exit once this many distinct messages have arrived (0: run until signalled)")
	out := fs.String("out", "", "write the JSON summary here (default: stdout)")
	useTLS := fs.Bool("tls", false, "offer STARTTLS with a self-signed certificate")
	certFile := fs.String("cert", "", "with -tls: PEM certificate to offer instead of a fresh self-signed one (for a relay that must trust it, such as maddy)")
	keyFile := fs.String("key", "", "with -tls and -cert: its PEM private key")
	timeout := fs.Duration("timeout", 10*time.Minute, "give up and report after this long")
	allowUnsigned := fs.Bool("allow-unsigned", false, "exit 0 even if messages arrive unsigned (a relay that does not sign)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *records == "" || *n < 0 {
		fmt.Fprintln(os.Stderr, "relaysink: give the DKIM key records with -records FILE (and -n at least 0)")
		return 2
	}
	host, _, err := net.SplitHostPort(*listen)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		fmt.Fprintln(os.Stderr, "relaysink: -listen must be a loopback address and port, e.g. 127.0.0.1:2525")
		return 2
	}
	f, err := os.Open(*records)
	if err != nil {
		fmt.Fprintf(os.Stderr, "relaysink: %v: write the records with `dkimrelay keys dns` or opendkim-genkey first\n", err)
		return 1
	}
	recs, err := parseRecords(f)
	f.Close()
	if err != nil {
		fmt.Fprintf(os.Stderr, "relaysink: %s: %v: give TXT records in zone-file form\n", *records, err)
		return 1
	}
	var cert *tls.Certificate
	if *useTLS && *certFile != "" {
		c, err := tls.LoadX509KeyPair(*certFile, *keyFile)
		if err != nil {
			fmt.Fprintf(os.Stderr, "relaysink: %v: give a PEM certificate with -cert and its key with -key\n", err)
			return 1
		}
		cert = &c
	} else if *useTLS {
		// A throwaway certificate: the relays under test deliver with
		// opportunistic TLS or skip verification.
		c, err := selfsigned.Certificate("relaysink.test", "127.0.0.1")
		if err != nil {
			fmt.Fprintln(os.Stderr, "relaysink: making a certificate:", err)
			return 1
		}
		cert = &c
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(os.Stderr, "relaysink: %v: stop whatever uses that port or pick another\n", err)
		return 1
	}
	sink := NewSink(recs, *n)
	sink.Start(ln, "relaysink.test", cert)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	select {
	case <-sink.Done():
	case <-ctx.Done():
	case <-time.After(*timeout):
		fmt.Fprintf(os.Stderr, "relaysink: timed out after %s\n", *timeout)
	}
	sum := sink.Summary()
	// Close before reporting: a late duplicate must not change figures
	// already written.
	sink.Close()
	if err := writeSummary(*out, sum); err != nil {
		fmt.Fprintln(os.Stderr, "relaysink:", err)
		return 1
	}
	if sum.Failed > 0 || (sum.Unsigned > 0 && !*allowUnsigned) {
		fmt.Fprintf(os.Stderr, "relaysink: %d message(s) failed DKIM and %d were unsigned; first failure: %s\n", sum.Failed, sum.Unsigned, sum.FirstFail)
		return 1
	}
	return 0
}

func writeSummary(path string, sum Summary) error {
	b, err := json.MarshalIndent(sum, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if path == "" {
		_, err = os.Stdout.Write(b)
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
