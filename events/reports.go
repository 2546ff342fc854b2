package events

import "log/slog"

// The events of the report fetcher (docs/reports.md), which reads the
// DMARC and TLS reports of a mailbox while the relay runs.
const (
	ReportImported     = "report_imported"      // a report read from the mailbox, stored (or already stored)
	ReportSkipped      = "report_skipped"       // a message of the mailbox that holds no usable report
	ReportsFetchFailed = "reports_fetch_failed" // a poll of the mailbox that failed

	ReporterKey = "reporter"  // the organisation that sent a report
	ReportIDKey = "report_id" // the reporter's ID of the report
	AddedKey    = "added"     // false when the report was stored already
	MailboxKey  = "mailbox"   // the IMAP server and folder
	UIDKey      = "uid"       // the message's IMAP UID in the folder
)

// ReportImport is the event "report_imported".
type ReportImport struct {
	Mailbox  string
	UID      uint32
	Kind     string // "dmarc" or "tlsrpt"
	Reporter string
	ReportID string
	Added    bool
}

// Name implements Event.
func (ReportImport) Name() string { return ReportImported }

// Log implements Event.
func (e ReportImport) Log(log *slog.Logger) {
	logAttrs(log, slog.LevelInfo, ReportImported,
		slog.String(MailboxKey, e.Mailbox),
		slog.Uint64(UIDKey, uint64(e.UID)),
		slog.String(KindKey, e.Kind),
		slog.String(ReporterKey, e.Reporter),
		slog.String(ReportIDKey, e.ReportID),
		slog.Bool(AddedKey, e.Added))
}

// ReportSkip is the event "report_skipped": the message stays in the
// folder, marked \Seen.
type ReportSkip struct {
	Mailbox string
	UID     uint32
	Reason  string
}

// Name implements Event.
func (ReportSkip) Name() string { return ReportSkipped }

// Log implements Event.
func (e ReportSkip) Log(log *slog.Logger) {
	logAttrs(log, slog.LevelWarn, ReportSkipped,
		slog.String(MailboxKey, e.Mailbox),
		slog.Uint64(UIDKey, uint64(e.UID)),
		slog.String(ReasonKey, e.Reason))
}

// ReportsFetchFailure is the event "reports_fetch_failed": the mailbox
// could not be read; the next poll tries again.
type ReportsFetchFailure struct {
	Mailbox string
	Reason  string
}

// Name implements Event.
func (ReportsFetchFailure) Name() string { return ReportsFetchFailed }

// Log implements Event.
func (e ReportsFetchFailure) Log(log *slog.Logger) {
	logAttrs(log, slog.LevelWarn, ReportsFetchFailed,
		slog.String(MailboxKey, e.Mailbox),
		slog.String(ReasonKey, e.Reason))
}

// TLSReportSent is the event "tlsrpt" for one policy domain: the report
// queued (QID) for the addresses of its _smtp._tls record, or why it was
// skipped.
type TLSReportSent struct {
	Domain   string
	To       []string
	QID      string
	Sessions int64
	Skipped  string
}

// Name implements Event.
func (TLSReportSent) Name() string { return TLSReport }

// Log implements Event.
func (e TLSReportSent) Log(log *slog.Logger) {
	logAttrs(log, slog.LevelInfo, TLSReport,
		slog.String(DomainKey, e.Domain),
		slog.Any(ToKey, e.To),
		slog.String(QIDKey, e.QID),
		slog.Int64(SessionsKey, e.Sessions),
		slog.String(SkippedKey, e.Skipped))
}
