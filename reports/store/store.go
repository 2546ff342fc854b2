// Package store keeps the reports dkimrelay has received, each once.
//
// [Store] is what the importer and the summary use; [Files] keeps reports
// in data_dir, one JSON file per report. A database behind the same
// interface serves relays that share their state.
package store

import (
	"context"
	"strings"
	"time"

	"dkimrelay/reports/dmarcrpt"
	"dkimrelay/reports/tlsrpt"
)

// Kind says which sort of report a Report is.
type Kind string

const (
	// DMARC is an aggregate report of RFC 7489 appendix C.
	DMARC Kind = "dmarc"
	// TLSRPT is a TLS report of RFC 8460.
	TLSRPT Kind = "tlsrpt"
)

// Report is one stored report. A report is identified by its kind, its
// reporter (compared without regard to case) and the reporter's report ID.
type Report struct {
	Kind     Kind      `json:"kind"`
	Reporter string    `json:"reporter"`
	ID       string    `json:"report_id"`
	Begin    time.Time `json:"begin"`
	End      time.Time `json:"end"`
	// Imported is when the report was first stored; From names what it
	// was imported from (a file, or a mailbox message).
	Imported time.Time `json:"imported"`
	From     string    `json:"from,omitempty"`

	DMARC *dmarcrpt.Feedback `json:"dmarc,omitempty"`
	TLS   *tlsrpt.Report     `json:"tlsrpt,omitempty"`
}

// NewDMARC wraps a parsed aggregate report.
func NewDMARC(f *dmarcrpt.Feedback) *Report {
	m := f.Metadata
	return &Report{Kind: DMARC, Reporter: m.OrgName, ID: m.ReportID, Begin: m.Begin, End: m.End, DMARC: f}
}

// NewTLS wraps a parsed TLS report.
func NewTLS(r *tlsrpt.Report) *Report {
	return &Report{Kind: TLSRPT, Reporter: r.OrganizationName, ID: r.ReportID, Begin: r.Start, End: r.End, TLS: r}
}

// Key is the report's identity: kind, reporter and report ID.
func (r *Report) Key() string {
	return string(r.Kind) + "\x00" + strings.ToLower(r.Reporter) + "\x00" + r.ID
}

// Store keeps reports.
type Store interface {
	// Add stores r unless a report with the same key is stored already,
	// in which case it returns false and changes nothing. It returns only
	// once the report is durable.
	Add(ctx context.Context, r *Report) (added bool, err error)
	// List returns the reports whose period ends at or after since (all
	// when since is zero), oldest first. Reports that cannot be read are
	// left out and named in the error, which comes with the others.
	List(ctx context.Context, since time.Time) ([]*Report, error)
}
