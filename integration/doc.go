// Package integration holds the end-to-end tests of the built dkimrelay
// program. They build cmd/dkimrelay once, drive it only through its outside
// interface (CLI, config file, SMTP, signals, the JSON event log; see
// CONTRACT.md) and check its behaviour against real peers on loopback: a DNS
// server (resolver/dnstest), SMTP sinks on 127.0.0.2 and 127.0.0.3 that act
// as separate hosts, go-smtp and swaks as submission clients, and go-msgauth
// and dkimpy as independent DKIM verifiers.
//
// The package has no code of its own: everything lives in _test.go files.
package integration
