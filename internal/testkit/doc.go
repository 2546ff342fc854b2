// Package testkit holds the helpers the tests of every package share: a
// raw SMTP client that sends bytes as they are and reads replies as they
// come, recording SMTP sinks (the receiving MX hosts and smarthosts, see
// internal/smtpsink) on loopback hosts, a collector of the relay's JSON
// log, a harness that runs a relay from a config in a temporary
// directory (in the test, or as a child process to stop or kill), and a
// certificate authority (with the TLSA records of its certificates) for
// tests of verified TLS.
//
// The tests run over real loopback: on Linux the whole of 127.0.0.0/8 is
// routed to lo, so 127.0.0.2, 127.0.0.3 and so on act as separate hosts.
package testkit
