package statuspage

import (
	"context"
	"fmt"
	"html/template"
	"time"

	"dkimrelay/reports/summary"
)

// view is everything the template shows.
type view struct {
	Hostname string
	Now      time.Time
	Search   *searchView // nil when nothing was searched
	Queue    QueueNow
	Window   Window
	Chart    chart // wide, for a desktop
	Narrow   chart // for a phone
	Policies []policyBar
	// Destinations are the first shownDestinations, MoreDests the rest.
	Destinations []Destination
	MoreDests    int
	HaveKeys     bool
	Keys         []KeyStatus
	KeysChecked  time.Time
	Reports      *summary.Summary
}

type searchView struct {
	Query    string
	Problem  string
	Stories  []storyView
	More     bool
	Skipped  int
	Warnings []string
}

type storyView struct {
	QID   string
	Lines []eventLine
}

type eventLine struct {
	Name, Text string
}

// shownDestinations bounds the destinations table.
const shownDestinations = 20

func (p *Page) view(ctx context.Context, q string) *view {
	now := p.opts.Now()
	v := &view{Hostname: p.opts.Hostname, Now: now}
	if q != "" {
		v.Search = p.search(ctx, q)
	}
	v.Queue = summarizeQueue(p.opts.Queue)
	if p.opts.History != nil {
		v.Window = p.opts.History.Window(now)
	} else {
		v.Window = NewHistory(now).Window(now)
	}
	v.Chart = newChart(v.Window, wideChart)
	v.Narrow = newChart(v.Window, narrowChart)
	v.Policies = policyBars(v.Window.Policies)
	v.Destinations = v.Window.Destinations
	if len(v.Destinations) > shownDestinations {
		v.MoreDests = len(v.Destinations) - shownDestinations
		v.Destinations = v.Destinations[:shownDestinations]
	}
	if p.opts.Keys != nil {
		v.HaveKeys = true
		v.Keys, v.KeysChecked = p.opts.Keys.Status(p.opts.RotateAfter, p.opts.RetireAfter)
	}
	if p.opts.Reports != nil {
		v.Reports = p.opts.Reports(ctx)
	}
	return v
}

// chartView is a chart with its element's id and class.
type chartView struct {
	Chart     chart
	ID, Class string
}

// policyBar is one TLS policy's share of the deliveries.
type policyBar struct {
	Policy  string
	Count   int
	Percent int     // of all deliveries, rounded
	Width   float64 // of the bar, out of 100
}

func policyBars(ps []PolicyCount) []policyBar {
	total := 0
	for _, p := range ps {
		total += p.Count
	}
	out := make([]policyBar, len(ps))
	for i, p := range ps {
		out[i] = policyBar{Policy: p.Policy, Count: p.Count,
			Percent: (p.Count*100 + total/2) / total, Width: float64(p.Count) * 100 / float64(total)}
	}
	return out
}

var funcs = template.FuncMap{
	"css": func() template.CSS { return template.CSS(styleCSS) },
	"chartOf": func(c chart, id, class string) chartView {
		return chartView{Chart: c, ID: id, Class: class}
	},
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "–"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"day": func(t time.Time) string {
		if t.IsZero() {
			return "–"
		}
		return t.UTC().Format("2006-01-02")
	},
	"age":   age,
	"since": func(now, t time.Time) string { return age(now.Sub(t)) },
	"until": func(now, t time.Time) string {
		if d := t.Sub(now); d > 0 {
			return "in " + age(d)
		}
		return "due"
	},
	"pct": func(n, total int) string {
		if total == 0 {
			return "–"
		}
		return fmt.Sprintf("%d%%", (n*100+total/2)/total)
	},
	"count": func(m map[string]int, k string) int { return m[k] },
	"dnsClass": func(s string) string {
		switch s {
		case "published":
			return "ok"
		case "":
			return "muted"
		case "dns-error":
			return "warn"
		}
		return "bad"
	},
	"stateClass": func(s string) string {
		switch s {
		case "active":
			return "ok"
		case "pending":
			return "warn"
		}
		return "muted"
	},
	"first": func(n int, list []summary.Source) []summary.Source {
		if len(list) > n {
			return list[:n]
		}
		return list
	},
}

// age is a duration for people: the two largest units.
func age(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm %02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh %02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd %02dh", int(d.Hours())/24, int(d.Hours())%24)
}
