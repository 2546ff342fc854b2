package metrics

import (
	"dkimrelay/reports/summary"

	"github.com/prometheus/client_golang/prometheus"
)

// reportCollector reports what the stored DMARC and TLS reports say
// (docs/reports.md), read when scraped.
type reportCollector struct {
	summary func() *summary.Summary
}

var (
	reportMessagesDesc = prometheus.NewDesc("dkimrelay_reports_messages",
		"Messages in the DMARC aggregate reports of the last 7 days, by the receivers' disposition (none, quarantine, reject).",
		[]string{"disposition"}, nil)
	reportAlignmentDesc = prometheus.NewDesc("dkimrelay_reports_alignment_messages",
		"Messages in the DMARC aggregate reports of the last 7 days, by check (dmarc, spf, dkim; the aligned results) and result.",
		[]string{"check", "result"}, nil)
	reportUnknownDesc = prometheus.NewDesc("dkimrelay_reports_unknown_sources",
		"Sending addresses in the DMARC aggregate reports of the last 7 days that are not the relay's egress addresses.", nil, nil)
	reportUnknownMessagesDesc = prometheus.NewDesc("dkimrelay_reports_unknown_source_messages",
		"Messages those unknown addresses sent as the relay's domains.", nil, nil)
	reportTLSFailedDesc = prometheus.NewDesc("dkimrelay_reports_tls_failed_sessions",
		"Failed inbound TLS sessions in the TLS reports of the last 7 days, by result type (RFC 8460 section 4.3.2).",
		[]string{"result_type"}, nil)
	reportStoredDesc = prometheus.NewDesc("dkimrelay_reports_stored",
		"Reports of the last 7 days in the store, by kind (dmarc, tlsrpt).", []string{"kind"}, nil)
)

func (c *reportCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{reportMessagesDesc, reportAlignmentDesc, reportUnknownDesc,
		reportUnknownMessagesDesc, reportTLSFailedDesc, reportStoredDesc} {
		ch <- d
	}
}

func (c *reportCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.summary()
	if s == nil {
		return
	}
	gauge := func(d *prometheus.Desc, v int, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), labels...)
	}
	counts := s.DMARC.Counts
	// The usual values are always present, so that a rate or an alert
	// has a series before the first failure.
	disp := map[string]int{"none": 0, "quarantine": 0, "reject": 0}
	for k, v := range counts.Disposition {
		disp[k] += v
	}
	for k, v := range disp {
		gauge(reportMessagesDesc, v, k)
	}
	for check, m := range map[string]map[string]int{"dmarc": counts.DMARC, "spf": counts.SPF, "dkim": counts.DKIM} {
		all := map[string]int{"pass": 0, "fail": 0}
		for k, v := range m {
			all[k] += v
		}
		for result, v := range all {
			gauge(reportAlignmentDesc, v, check, result)
		}
	}
	unknown := 0
	for _, src := range s.DMARC.Sources {
		if src.Class == summary.Unknown {
			unknown += src.Messages
		}
	}
	gauge(reportUnknownDesc, s.DMARC.UnknownSources)
	gauge(reportUnknownMessagesDesc, unknown)
	tls := map[string]int{}
	for _, f := range s.TLS.Failures {
		tls[f.ResultType] += f.Sessions
	}
	for k, v := range tls {
		gauge(reportTLSFailedDesc, v, k)
	}
	gauge(reportStoredDesc, s.DMARC.Reports, "dmarc")
	gauge(reportStoredDesc, s.TLS.Reports, "tlsrpt")
}
