package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// FeaturesCG is features_callgrind.json: the user-space instructions of
// each features relay over Messages messages under callgrind.
type FeaturesCG struct {
	Messages     int              `json:"messages"`
	Instructions map[string]int64 `json:"instructions"`
}

// loadFeaturesCG reads dir/features_callgrind.json; nil when the run made
// none.
func loadFeaturesCG(dir string) (*FeaturesCG, error) {
	b, err := os.ReadFile(filepath.Join(dir, "features_callgrind.json"))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var cg FeaturesCG
	if err := json.Unmarshal(b, &cg); err != nil {
		return nil, fmt.Errorf("features_callgrind.json: %w", err)
	}
	if cg.Messages < 1 || cg.Instructions["features-on"] <= 0 || cg.Instructions["features-off"] <= 0 {
		return nil, fmt.Errorf("features_callgrind.json: no instruction counts for both features-on and features-off")
	}
	return &cg, nil
}

// writeFeatures writes the section of dkimrelay by MX with its delivery
// features on against off: both cells, then on ÷ off. Nothing when there
// are no such runs.
func writeFeatures(b *strings.Builder, cells []Cell, cg *FeaturesCG, m Meta) {
	on, off := cellOf(cells, "features-on", 8, 4096), cellOf(cells, "features-off", 8, 4096)
	if len(cells) == 0 {
		return
	}
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	p("## Delivery features on against off\n\n")
	p("dkimrelay delivering by MX lookups (MTA-STS and DANE apply only there), to the same sink (offering STARTTLS)\n")
	p("through a DNS server on loopback (`bench/benchdns`: the MX of the recipient domain, answers with the AD bit so that\n")
	p("DANE looks for TLSA records, no TLSA or MTA-STS record). On: the defaults (`mta_sts`, `dane`,\n")
	p("`submission.duplicate_window`, `suppress_after_bounce`, `provider_rate`, `bulk_rate`, `provider_connections`).\n")
	p("Off: each of them off or 0. The two relays alternate, %s of %s each at c=8, 4 KB.\n\n",
		plural(m.FeatureRounds, "round"), plural(m.FeatureMessages, "message"))
	writeCells(b, cells, 4096)
	if on == nil || off == nil || off.CPUmsPerMsg == 0 || off.DeliveredPS == 0 {
		return
	}
	cost := (on.CPUmsPerMsg/off.CPUmsPerMsg - 1) * 100
	p("On against off: CPU per message %.2f ms against %.2f ms (**%+.1f %%**; the target is at most +5 %%), delivered\n", on.CPUmsPerMsg, off.CPUmsPerMsg, cost)
	p("msgs/s %.2f× (on ÷ off).\n\n", on.DeliveredPS/off.DeliveredPS)
	if cg != nil {
		ion := float64(cg.Instructions["features-on"]) / float64(cg.Messages)
		ioff := float64(cg.Instructions["features-off"]) / float64(cg.Messages)
		p("Under callgrind (user-space instructions, %s each after a warm-up; unlike seconds they hold still while the\n", plural(cg.Messages, "message"))
		p("machine is shared): %.0f instructions per message on, %.0f off (**%+.1f %%**).\n\n", ion, ioff, (ion/ioff-1)*100)
	}
}

// writeMemory writes the memory run: dkimrelay taking 64 messages of
// 10 MB over 64 connections at once.
func writeMemory(b *strings.Builder, cells []Cell) {
	for _, c := range cells {
		if c.Relay != "dkimrelay" {
			continue
		}
		p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
		p("## Memory\n\n")
		p("dkimrelay taking %d messages of %s at once, one per connection (`relaybench -c %d -size %d -n %d`, %s):\n",
			c.C, sizeName(c.Size), c.C, c.Size, c.C, modeName(c.Mode))
		if c.Failed == c.Rounds {
			p("the run failed (see below).\n\n")
			return
		}
		p("peak RSS **%.0f MB** (the target is below 150 MB), peak PSS %.0f MB; %.1f delivered msgs/s, p99 %.0f ms.\n\n",
			c.PeakRSSMB, c.PeakPSSMB, c.DeliveredPS, c.P99ms)
		return
	}
}
