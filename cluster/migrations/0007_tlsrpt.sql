-- The TLS-RPT session counts (RFC 8460) of every relay: each relay adds
-- what it counted every minute, one row each time (its policy reports in
-- JSON); the relay that sends the daily reports takes and deletes them
-- all, and starts the next span.
CREATE TABLE cluster_tlsrpt_counts (
	id       bigserial PRIMARY KEY,
	node     text NOT NULL,
	added_at timestamptz NOT NULL DEFAULT now(),
	policies jsonb NOT NULL
);
CREATE TABLE cluster_tlsrpt_span (
	id    int PRIMARY KEY CHECK (id = 1),
	start timestamptz NOT NULL
);
INSERT INTO cluster_tlsrpt_span VALUES (1, now());
