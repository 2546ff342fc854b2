-- The relays of the cluster and when each was last seen: how many share
-- the providers' pacing limits.
CREATE TABLE cluster_nodes (
	node    text PRIMARY KEY,
	seen_at timestamptz NOT NULL
);
