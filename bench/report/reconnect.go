package main

import (
	"fmt"
	"strings"
)

// reconnectTitle heads the section of the runs of relaybench -reconnect.
const reconnectTitle = "A new connection and login for every message"

// writeReconnect writes the section of the runs that open a new
// connection, STARTTLS and AUTH for every message: their table and ratios
// as for reused connections, then what reconnecting costs each relay
// against its cell of the same size and concurrency in reuse. Nothing
// when there are no such runs (raw folders from before them).
func writeReconnect(b *strings.Builder, cells, reuse []Cell) {
	if len(cells) == 0 {
		return
	}
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	p("## %s (Mastodon's pattern)\n\n", reconnectTitle)
	p("Mastodon sends mail through ActionMailer, the mail gem and Ruby's Net::SMTP, which open a new connection,\n")
	p("do STARTTLS and log in for every message (`relaybench -reconnect` here). Each login is an argon2id\n")
	p("verification for dkimrelay, tens of milliseconds of CPU, unless its verified-login cache (`auth_cache_ttl`,\n")
	p("10 minutes by default, as here) remembers the password; for Postfix it is a sasldb lookup. Latency is still\n")
	p("from MAIL FROM to the reply after the final dot: the connection, TLS handshake and AUTH show in msgs/s and CPU.\n\n")
	for _, size := range sizesOf(cells) {
		p("### %s messages\n\n", sizeName(size))
		writeCells(b, cells, size)
		writeRatios(b, cells, size)
	}

	rows := ""
	for _, c := range cells {
		rc := cellOf(cells, c.Relay, c.C, c.Size)
		ru := cellOf(reuse, c.Relay, c.C, c.Size)
		if rc == nil || ru == nil {
			continue
		}
		rows += fmt.Sprintf("| %s | %s | %d | %s | %+.2f |\n", relayName(c.Relay), sizeName(c.Size), c.C,
			ratio(rc, ru, func(c *Cell) float64 { return c.DeliveredPS }), rc.CPUmsPerMsg-ru.CPUmsPerMsg)
	}
	if rows != "" {
		p("What a connection and login per message costs each relay, against its own runs above that reuse one\n")
		p("connection per client (same size and concurrency):\n\n")
		p("| relay | size | c | delivered msgs/s, new ÷ reused connections | CPU ms/msg more |\n")
		p("|---|---|---:|---:|---:|\n")
		p("%s\n", rows)
	}
}
