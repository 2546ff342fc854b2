// Package reports reads the DMARC aggregate reports (RFC 7489 section 7.2)
// and SMTP TLS reports (RFC 8460) that receivers send about a domain, and
// says what they mean for this relay. docs/reports.md is the guide for
// administrators.
//
// The work is split in packages, each with one job:
//
//	reports/dmarcrpt   parse DMARC aggregate report XML
//	reports/tlsrpt     parse TLS report JSON
//	reports/unpack     find reports in archives, messages and mbox files
//	reports/store      keep each report once
//	reports/importer   import files, folders and standard input
//	reports/summary    sum up the stored reports for the relay
//	reports/imapfetch  poll a mailbox over IMAP while the relay runs
//
// This package joins them to the configuration, for the command line and
// the daemon.
package reports
