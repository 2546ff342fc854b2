package relay

import (
	"fmt"
	"testing"

	"dkimrelay/internal/pgtest"
	"dkimrelay/internal/smtpsink"
	"dkimrelay/internal/testkit"
	"dkimrelay/resolver/dnstest"
)

// clusterRig is what the relays of a cluster test share: PostgreSQL with
// a database of their own, the DNS server with clusterZone, the sink that
// is its MX, and the relays, prepared but not started, named a, b, c…
// and listening on 127.0.0.2, 127.0.0.3…
type clusterRig struct {
	pg     *pgtest.Server
	conn   string
	dns    *dnstest.Server
	sink   *smtpsink.Sink
	relays []*hardRelay
}

// newClusterRig starts PostgreSQL, the database, the sink and DNS for n
// relays of one cluster, and prepares the relays.
func newClusterRig(t *testing.T, n int) *clusterRig {
	t.Helper()
	r := &clusterRig{pg: pgtest.Start(t)}
	r.conn = r.pg.NewDatabase(t)
	port, ls := testkit.ListenSame(t, "127.0.0.9")
	r.sink = serveSink(t, ls[0])
	r.dns = dnstest.NewServer(t)
	r.dns.AddZone(clusterZone)
	for i := range n {
		node := string(rune('a' + i))
		r.relays = append(r.relays, clusterRelay(t, r.dns, port, r.conn, node, fmt.Sprintf("127.0.0.%d", i+2)))
	}
	return r
}
