package main

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
)

// writeChart draws delivered msgs/s against concurrency, one line per
// relay and sink mode (solid: the sink offers STARTTLS; dashed: it offers
// none), for messages of the given size sent over reused connections (the
// runs with a new connection per message are at one concurrency only, and
// in a table of their own). cells are those of the comparison's relays. The SVG is plain text with fixed
// number formatting, so it diffs cleanly between runs.
func writeChart(w io.Writer, cells []Cell, size int) error {
	const (
		width, height            = 860, 400
		left, right, top, bottom = 70, 330, 50, 60
		plotW, plotH             = width - left - right, height - top - bottom
		ticks                    = 5
	)
	var cs []int
	seenC := map[int]bool{}
	ymax := 0.0
	byRelay := map[string]map[int]float64{} // by relay and mode
	for _, c := range cells {
		if c.Size != size || c.Reconnect || c.Failed == c.Rounds || isFeatures(c.Relay) {
			continue
		}
		if !seenC[c.C] {
			seenC[c.C] = true
			cs = append(cs, c.C)
		}
		k := c.Relay + " " + c.Mode
		if byRelay[k] == nil {
			byRelay[k] = map[int]float64{}
		}
		byRelay[k][c.C] = c.DeliveredPS
		ymax = math.Max(ymax, c.DeliveredPS)
	}
	if len(cs) == 0 {
		return fmt.Errorf("no successful runs at %d bytes to chart", size)
	}
	sort.Ints(cs)
	step := niceStep(ymax / ticks)
	top0 := math.Ceil(ymax/step) * step
	if top0 == 0 {
		top0 = 1
	}
	// The first and last points sit 40 px inside the axes, clear of the
	// tick labels.
	const pad = 40
	x := func(i int) float64 {
		if len(cs) == 1 {
			return left + plotW/2
		}
		return left + pad + float64(i)*(plotW-2*pad)/float64(len(cs)-1)
	}
	y := func(v float64) float64 { return top + plotH - v/top0*plotH }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", width, height)
	fmt.Fprintf(&b, `<text x="%d" y="24" font-size="15" font-weight="bold">Delivered messages per second (%s messages, STARTTLS + AUTH submission)</text>`+"\n", left, sizeName(size))
	for v := 0.0; v <= top0+step/2; v += step {
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#dddddd"/>`+"\n", left, y(v), left+plotW, y(v))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%.0f</text>`+"\n", left-8, y(v)+4, v)
	}
	for i, c := range cs {
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%d</text>`+"\n", x(i), top+plotH+20, c)
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">concurrent submission connections</text>`+"\n", left+plotW/2, height-16)
	fmt.Fprintf(&b, `<text transform="translate(18 %d) rotate(-90)" text-anchor="middle">msgs/s (median)</text>`+"\n", top+plotH/2)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#000000"/>`+"\n", left, top+plotH, left+plotW, top+plotH)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#000000"/>`+"\n", left, top, left, top+plotH)

	legend := 0
	for _, mode := range []string{modeStartTLS, modePlain} {
		for _, r := range relays {
			vals, ok := byRelay[r.id+" "+mode]
			if !ok {
				continue
			}
			dash := ""
			if mode == modePlain {
				dash = ` stroke-dasharray="6 4"`
			}
			var pts []string
			for i, c := range cs {
				if v, ok := vals[c]; ok {
					pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(i), y(v)))
				}
			}
			fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2.5"%s/>`+"\n", strings.Join(pts, " "), r.color, dash)
			for i, c := range cs {
				if v, ok := vals[c]; ok {
					fill := r.color
					if mode == modePlain {
						fill = "#ffffff"
					}
					fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="4" fill="%s" stroke="%s"/>`+"\n", x(i), y(v), fill, r.color)
					fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="%s">%.0f</text>`+"\n", x(i), y(v)-9, r.color, v)
				}
			}
			name := r.name
			if mode == modePlain {
				name += ", sink without TLS"
			}
			ly := top + 10 + legend*22
			fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2.5"%s/>`+"\n", left+plotW+16, ly, left+plotW+40, ly, r.color, dash)
			fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`+"\n", left+plotW+46, ly+4, xmlEscape(name))
			legend++
		}
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// niceStep rounds a raw tick step up to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw {
			return m * p
		}
	}
	return 10 * p
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}

func sizeName(n int) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MB", n>>20)
	}
	if n%1024 == 0 {
		return fmt.Sprintf("%d KB", n/1024)
	}
	return fmt.Sprintf("%d B", n)
}
