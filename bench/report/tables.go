package main

import (
	"fmt"
	"strings"
)

// writeCells writes the table of the median cells of one message size,
// one row per relay and concurrency, in the order of cells.
func writeCells(b *strings.Builder, cells []Cell, size int) {
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	p("| relay | c | delivered msgs/s | accepted msgs/s | p50 ms | p99 ms | CPU ms/msg | peak RSS MB | peak PSS MB | sigs/msg | connections /100 msgs |\n")
	p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, c := range cells {
		if c.Size != size {
			continue
		}
		if c.Failed == c.Rounds {
			p("| %s | %d | failed (%d of %d runs) | | | | | | | | |\n", relayName(c.Relay), c.C, c.Failed, c.Rounds)
			continue
		}
		note := ""
		if c.Failed > 0 {
			note = fmt.Sprintf(" (%d of %d runs failed)", c.Failed, c.Rounds)
		}
		p("| %s | %d | **%.0f**%s | %.0f | %.1f | %.1f | %.2f | %.0f | %.0f | %.0f | %.1f |\n",
			relayName(c.Relay), c.C, c.DeliveredPS, note, c.AcceptedPS, c.P50ms, c.P99ms, c.CPUmsPerMsg, c.PeakRSSMB, c.PeakPSSMB, c.SigsPerMsg, c.ConnsPer100)
	}
	p("\n")
}

// writeRatios writes dkimrelay's figures against both Postfix setups (and
// maddy, when it ran) at each concurrency of one message size; nothing
// when dkimrelay has no successful cell there.
func writeRatios(b *strings.Builder, cells []Cell, size int) {
	withMaddy := false
	for _, c := range cells {
		withMaddy = withMaddy || (c.Size == size && c.Relay == "maddy")
	}
	delivered := func(c *Cell) float64 { return c.DeliveredPS }
	cpu := func(c *Cell) float64 { return c.CPUmsPerMsg }
	rows := ""
	for _, c := range cells {
		if c.Size != size || c.Relay != "dkimrelay" {
			continue
		}
		d := cellOf(cells, "dkimrelay", c.C, size)
		po := cellOf(cells, "postfix-opendkim", c.C, size)
		pn := cellOf(cells, "postfix", c.C, size)
		if d == nil {
			continue
		}
		rows += fmt.Sprintf("| %d | %s | %s | %s | %s |", c.C,
			ratio(d, po, delivered), ratio(d, pn, delivered), ratio(po, d, cpu),
			ratio(po, d, func(c *Cell) float64 { return c.P99ms }))
		if withMaddy {
			md := cellOf(cells, "maddy", c.C, size)
			rows += fmt.Sprintf(" %s | %s |", ratio(d, md, delivered), ratio(md, d, cpu))
		}
		rows += "\n"
	}
	if rows == "" {
		return
	}
	b.WriteString("Ratios (dkimrelay's advantage; above 1 is better for dkimrelay):\n\n")
	b.WriteString("| c | delivered vs Postfix + OpenDKIM | delivered vs Postfix, no DKIM | CPU/msg, Postfix + OpenDKIM ÷ dkimrelay | p99, Postfix + OpenDKIM ÷ dkimrelay |")
	sep := "|---:|---:|---:|---:|---:|"
	if withMaddy {
		b.WriteString(" delivered vs maddy | CPU/msg, maddy ÷ dkimrelay |")
		sep += "---:|---:|"
	}
	b.WriteString("\n" + sep + "\n")
	b.WriteString(rows + "\n")
}

func ratio(a, b *Cell, f func(*Cell) float64) string {
	if a == nil || b == nil || f(b) == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f×", f(a)/f(b))
}

// sizesOf lists the message sizes of cells in their order.
func sizesOf(cells []Cell) []int {
	var sizes []int
	seen := map[int]bool{}
	for _, c := range cells {
		if !seen[c.Size] {
			seen[c.Size] = true
			sizes = append(sizes, c.Size)
		}
	}
	return sizes
}
