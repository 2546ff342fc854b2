// Command signfloor measures the floor of dkimrelay's CPU per message on
// this machine: the CPU time of one DKIM signature of the benchmark's
// message with the relay's own signing code (package dkim: ReadHeader,
// NewSigner, the body through it, Sign), with an RSA-2048 key, an Ed25519
// key, and both as dkimrelay signs. bench/compare.sh runs it between its
// rounds, so that it sees the machine's load as the relays do, and divides
// dkimrelay's CPU per message by the RSA-2048 figure.
//
// It signs on one goroutine for -duration per key set and reports the
// process's CPU time (getrusage: user + system, garbage collection
// included) per signature, not wall time, as JSON on stdout:
//
//	signfloor -message msg.eml -duration 3s
package main

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"dkimrelay/dkim"
)

// Floor is one key set's figures.
type Floor struct {
	Signatures int     `json:"signatures"`
	CPUms      float64 `json:"cpu_ms_per_signature"`
	Wallms     float64 `json:"wall_ms_per_signature"`
}

func main() {
	msgFile := flag.String("message", "", "the message to sign, as relaybench sends it (relaybench -print-message)")
	duration := flag.Duration("duration", 3*time.Second, "how long to sign with each key set")
	flag.Parse()
	if *msgFile == "" || *duration <= 0 {
		fmt.Fprintln(os.Stderr, "signfloor: give the message with -message FILE and a positive -duration")
		os.Exit(2)
	}
	msg, err := os.ReadFile(*msgFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "signfloor:", err)
		os.Exit(1)
	}
	out, err := measure(msg, *duration)
	if err != nil {
		fmt.Fprintln(os.Stderr, "signfloor:", err)
		os.Exit(1)
	}
	b, _ := json.MarshalIndent(out, "", "  ")
	fmt.Println(string(b))
}

// measure signs msg with each key set for d and returns the figures by
// name: rsa2048, ed25519, both.
func measure(msg []byte, d time.Duration) (map[string]Floor, error) {
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	_, ek, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	rsaKey := dkim.Key{Domain: "bench.test", Selector: "rsa", Signer: rk}
	edKey := dkim.Key{Domain: "bench.test", Selector: "ed", Signer: ek}
	out := map[string]Floor{}
	for _, set := range []struct {
		name string
		keys []dkim.Key
	}{{"rsa2048", []dkim.Key{rsaKey}}, {"ed25519", []dkim.Key{edKey}}, {"both", []dkim.Key{rsaKey, edKey}}} {
		for range 20 { // warm-up: precomputed values, the heap's first growth
			if err := sign(set.keys, msg); err != nil {
				return nil, err
			}
		}
		cpu0, wall0, n := cpuTime(), time.Now(), 0
		for time.Since(wall0) < d {
			if err := sign(set.keys, msg); err != nil {
				return nil, err
			}
			n++
		}
		cpu, wall := cpuTime()-cpu0, time.Since(wall0)
		out[set.name] = Floor{Signatures: n, CPUms: ms(cpu) / float64(n), Wallms: ms(wall) / float64(n)}
	}
	return out, nil
}

// sign runs msg through the relay's signing path, as the submission server
// does: the header read, the body written to the signer in 32 KiB writes.
func sign(keys []dkim.Key, msg []byte) error {
	br := bufio.NewReaderSize(bytes.NewReader(msg), 32<<10)
	h, err := dkim.ReadHeader(br, 0)
	if err != nil {
		return err
	}
	s, err := dkim.NewSigner(keys, h)
	if err != nil {
		return err
	}
	if _, err := io.Copy(s, br); err != nil {
		return err
	}
	_, err = s.Sign()
	return err
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
