package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// floorFile is one floor_rROUND.json: bench/signfloor's figures and
// OpenSSL's RSA-2048 signature (wall ms; 0 when it could not be read).
type floorFile struct {
	Go map[string]struct {
		Signatures int     `json:"signatures"`
		CPUms      float64 `json:"cpu_ms_per_signature"`
	} `json:"go"`
	OpenSSLms float64 `json:"openssl_rsa2048_ms"`
}

// Floor is the signing floor of a run: the median over the rounds of the
// CPU of one signature of the bench's 4 KB message with the dkim package,
// by key set, with the lowest and highest round.
type Floor struct {
	Rounds    int                  `json:"rounds"`
	CPUms     map[string]floorCell `json:"cpu_ms_per_signature"`
	OpenSSLms float64              `json:"openssl_rsa2048_ms"`
}

type floorCell struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
}

// The key sets bench/signfloor signs with, in the report's order.
var floorKeys = []struct{ id, name string }{
	{"rsa2048", "RSA-2048"},
	{"ed25519", "Ed25519"},
	{"both", "RSA-2048 + Ed25519, as dkimrelay signs"},
}

var floorName = regexp.MustCompile(`^floor_r[0-9]+\.json$`)

// loadFloor reads the floor files of dir; nil when there are none (raw
// folders from before the floor was measured).
func loadFloor(dir string) (*Floor, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	vals := map[string][]float64{}
	var ossl []float64
	rounds := 0
	for _, e := range ents {
		if !floorName.MatchString(e.Name()) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		var f floorFile
		if err := json.Unmarshal(b, &f); err != nil {
			return nil, fmt.Errorf("%s: %w", e.Name(), err)
		}
		for _, k := range floorKeys {
			g, ok := f.Go[k.id]
			if !ok || g.Signatures == 0 || g.CPUms <= 0 {
				return nil, fmt.Errorf("%s: no %s figure: bench/signfloor failed in that round", e.Name(), k.id)
			}
			vals[k.id] = append(vals[k.id], g.CPUms)
		}
		if f.OpenSSLms > 0 {
			ossl = append(ossl, f.OpenSSLms)
		}
		rounds++
	}
	if rounds == 0 {
		return nil, nil
	}
	fl := &Floor{Rounds: rounds, CPUms: map[string]floorCell{}, OpenSSLms: median(ossl)}
	for k, v := range vals {
		sort.Float64s(v)
		fl.CPUms[k] = floorCell{Median: median(v), Min: v[0], Max: v[len(v)-1]}
	}
	return fl, nil
}

// writeFloor writes the signing floor and dkimrelay's CPU per message at
// c=8, 4 KB, in each sink mode, divided by it.
func writeFloor(b *strings.Builder, fl *Floor, cells []Cell) {
	if fl == nil {
		return
	}
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	p("## The signing floor\n\n")
	p("`bench/signfloor` signs the bench's 4 KB message with dkimrelay's own signing code (package `dkim`: the header\n")
	p("read, the body canonicalized and hashed, the signature) in a loop on one goroutine, and divides the process's CPU\n")
	p("time (getrusage, user + system) by the signatures; between the rounds, so that it sees the machine as the relays\n")
	p("do. Medians over %s, with the lowest and highest round.\n\n", plural(fl.Rounds, "round"))
	p("| keys | CPU ms per signature | range over the rounds |\n|---|---:|---:|\n")
	for _, k := range floorKeys {
		c := fl.CPUms[k.id]
		p("| %s | %.3f | %.3f–%.3f |\n", k.name, c.Median, c.Min, c.Max)
	}
	p("\n")
	if fl.OpenSSLms > 0 {
		p("For context, OpenSSL signs with RSA-2048 in %.3f ms (`openssl speed rsa2048`, wall time, one core).\n\n", fl.OpenSSLms)
	}
	rsa, both := fl.CPUms["rsa2048"].Median, fl.CPUms["both"].Median
	rows := ""
	for _, m := range modesOf(cells) {
		d := cellOf(inMode(cells, m), "dkimrelay", 8, 4096)
		if d == nil || rsa == 0 {
			continue
		}
		rows += fmt.Sprintf("| %s | %.2f | **%.2f×** | %.2f× |\n", modeName(m), d.CPUmsPerMsg, d.CPUmsPerMsg/rsa, d.CPUmsPerMsg/both)
	}
	if rows != "" {
		p("dkimrelay's CPU per message at c=8 with 4 KB messages against the floor (the target is at most 2× the RSA-2048\n")
		p("signature; dkimrelay signs with RSA-2048 and Ed25519):\n\n")
		p("| runs | dkimrelay CPU ms/msg | ÷ RSA-2048 signature | ÷ RSA-2048 + Ed25519 signatures |\n|---|---:|---:|---:|\n%s\n", rows)
	}
}
