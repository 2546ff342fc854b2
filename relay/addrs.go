package relay

import "net"

// SubmissionAddrs are the addresses the submission listeners took,
// STARTTLS ones first (a config with port 0 gets free ports); empty until
// Run has opened them.
func (r *Relay) SubmissionAddrs() []net.Addr { return r.smtp.Addrs() }
