package metrics

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"dkimrelay/relay/pacing"
)

// providerLabel is the provider label of a delivery to mxHost: one of the
// big mailbox providers (Gmail, Outlook, Yahoo, ...), whose daily volume
// decides whether the domain is a "bulk sender" to them, or "other", so
// that the label stays bounded.
func providerLabel(mxHost string) string {
	if name, big := pacing.ProviderOf(mxHost); big {
		return name
	}
	return "other"
}

// dailyCounts counts deliveries per provider for the current UTC day, the
// period over which Gmail and Yahoo count 5,000 messages a day, and sets
// the gauge; the counts start again at midnight UTC.
type dailyCounts struct {
	gauge *prometheus.GaugeVec
	now   func() time.Time

	mu     sync.Mutex
	day    string
	counts map[string]float64
}

func (d *dailyCounts) add(provider string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if day := d.now().UTC().Format(time.DateOnly); day != d.day {
		d.day, d.counts = day, map[string]float64{}
		d.gauge.Reset()
	}
	d.counts[provider]++
	d.gauge.WithLabelValues(provider).Set(d.counts[provider])
}
