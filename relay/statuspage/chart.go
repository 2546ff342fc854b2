package statuspage

import (
	"fmt"
	"strings"
)

// chartSize is a chart's geometry, in the units of its SVG viewBox; CSS
// scales it to the page's width. The page draws the chart twice, wide for
// a desktop and narrow for a phone (CSS shows one), so that its text stays
// readable at both sizes.
type chartSize struct {
	W, H       float64
	LabelEvery int // hours between two labels of the time axis
}

var (
	wideChart   = chartSize{W: 720, H: 200, LabelEvery: 3}
	narrowChart = chartSize{W: 360, H: 190, LabelEvery: 6}
)

const plotL, plotR, plotTop, plotBottom = 34.0, 6.0, 10.0, 24.0

// chart is the 24-hour chart: a stacked bar of the recipients' outcomes per
// hour, and the accepted messages as a line.
type chart struct {
	W, H      float64
	Slots     []slot
	Accepted  string // the line's points
	Grid      []gridLine
	PlotL     float64
	PlotR     float64 // x of the plot's right edge
	BaseY     float64
	PlotTop   float64
	PlotH     float64
	AxisX     float64 // the right end of the grid's labels
	LabelY    float64 // the baseline of the hours' labels
	Max       int
	HasEvents bool
}

type slot struct {
	Title  string // the hour and its figures, shown on hover
	X, W   float64
	Bars   []bar
	Label  string // the hour under some slots
	LabelX float64
	Dot    point // the accepted line's point
	HasDot bool  // messages were accepted in the hour
}

type bar struct {
	Class   string
	Y, H    float64
	Outcome string
}

type point struct{ X, Y float64 }

type gridLine struct {
	Y     float64
	Label string
}

// stacked are the outcomes the bars stack, bottom first.
var stacked = []Outcome{Delivered, Deferred, Bounced, Suppressed}

func newChart(w Window, size chartSize) chart {
	c := chart{W: size.W, H: size.H, PlotL: plotL, PlotR: size.W - plotR, BaseY: size.H - plotBottom,
		PlotTop: plotTop, PlotH: size.H - plotBottom - plotTop, AxisX: plotL - 5, LabelY: size.H - plotBottom + 16}
	for _, h := range w.Hours {
		c.Max = max(c.Max, h.Counts.sum(), h.Counts[Accepted])
	}
	c.HasEvents = c.Max > 0
	top := niceCeil(c.Max)
	scale := c.PlotH / float64(top)
	for i := 0; i <= 2; i++ {
		v := top * i / 2
		c.Grid = append(c.Grid, gridLine{Y: c.BaseY - float64(v)*scale, Label: fmt.Sprint(v)})
	}
	slotW := (c.PlotR - c.PlotL) / float64(len(w.Hours))
	var pts []string
	for i, h := range w.Hours {
		x := c.PlotL + float64(i)*slotW
		s := slot{X: x + slotW*0.15, W: slotW * 0.7}
		var parts []string
		for _, o := range append([]Outcome{Accepted}, stacked...) {
			parts = append(parts, fmt.Sprintf("%d %s", h.Counts[o], o))
		}
		s.Title = fmt.Sprintf("%s–%s UTC: %s", h.Start.Format("15:04"), h.Start.Add(3600e9).Format("15:04"), strings.Join(parts, ", "))
		y := c.BaseY
		for _, o := range stacked {
			n := h.Counts[o]
			if n == 0 {
				continue
			}
			bh := float64(n) * scale
			y -= bh
			s.Bars = append(s.Bars, bar{Class: "c-" + o.String(), Y: y, H: bh, Outcome: o.String()})
		}
		if i%size.LabelEvery == 0 {
			s.Label, s.LabelX = h.Start.Format("15h"), x+slotW/2
		}
		s.Dot = point{X: x + slotW/2, Y: c.BaseY - float64(h.Counts[Accepted])*scale}
		s.HasDot = h.Counts[Accepted] > 0
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", s.Dot.X, s.Dot.Y))
		c.Slots = append(c.Slots, s)
	}
	c.Accepted = strings.Join(pts, " ")
	return c
}

// niceCeil rounds n up to 2, 4, 6, 8, 10, 20, 40, ... (even, so the
// middle grid line is a whole number).
func niceCeil(n int) int {
	for base := 1; ; base *= 10 {
		for _, m := range []int{2, 4, 6, 8, 10} {
			if n <= m*base {
				return m * base
			}
		}
	}
}
