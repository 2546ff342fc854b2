package config

import (
	"fmt"
	"os"
	"strings"
	"time"
)

// Cluster configures the PostgreSQL database that several relays share
// (docs/cluster.md). Without Postgres everything stays in data_dir.
type Cluster struct {
	// Postgres is a libpq connection string without a password (peer
	// authentication, or PGPASSFILE).
	Postgres string `toml:"postgres"`
	// Node is this relay's name in the cluster; default the host name.
	Node string `toml:"node"`
	// Lease is how long a message a relay is delivering stays its own
	// without a renewal: how long a dead relay's messages wait for
	// another relay.
	Lease time.Duration `toml:"lease"`
	// EventsRetention is how long the message events stay in the
	// database for `logs --id` (each relay's log file keeps its own as
	// before); 0 keeps none.
	EventsRetention time.Duration `toml:"events_retention"`
}

// Enabled reports whether the relay uses the cluster database.
func (c Cluster) Enabled() bool { return c.Postgres != "" }

func defaultCluster() Cluster {
	return Cluster{Lease: time.Minute, EventsRetention: 30 * 24 * time.Hour}
}

func (c *Cluster) validate() error {
	if !c.Enabled() {
		return nil
	}
	if c.Node == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			return fmt.Errorf("cluster.node is not set and the system's host name is unknown: set node = \"relay1\"")
		}
		c.Node = h
	}
	if strings.ContainsFunc(c.Node, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return fmt.Errorf("cluster.node %q contains spaces or control characters", c.Node)
	}
	if c.Lease < 5*time.Second {
		return fmt.Errorf("cluster.lease = %s is too short: a lease is renewed every third of it; use at least \"5s\" (default \"1m\")", c.Lease)
	}
	return nil
}
