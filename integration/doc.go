// Package integration holds the end-to-end tests of the built dkimrelay
// program. They build cmd/dkimrelay once, drive it only through its outside
// interface (CLI, config file, SMTP, signals, the JSON event log; see
// README.md) and check its behaviour against real peers on loopback: a DNS
// server (resolver/dnstest), SMTP sinks on 127.0.0.2 and 127.0.0.3 that act
// as separate hosts, and the submission clients real senders use: go-smtp,
// Mastodon's own stack (Ruby's mail gem over Net::SMTP), swaks and Python's
// smtplib.
//
// Every delivered message is checked by three independent DKIM verifiers,
// go-msgauth, dkimpy and Perl's Mail::DKIM, each looking the keys up in the
// test DNS server; they must all agree with the expected verdict on every
// signature (see verifyBatch). testdata/corpus holds the messages that
// exercise canonicalization.
//
// The external tools are Debian packages that scripts/test.sh installs
// (scripts/install-mail-dkim.sh brings a Mail::DKIM with Ed25519 to Debian
// 12). Under CI=true a missing one fails the test naming the package;
// elsewhere the test skips with that message.
//
// The package has no code of its own: everything lives in _test.go files.
package integration
