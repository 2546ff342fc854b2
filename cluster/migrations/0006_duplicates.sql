-- The duplicate window (submission.duplicate_window) of every relay: the
-- fingerprint of each message accepted within it and its queue ID; qid
-- '' while a relay is queueing it (a claim). Rows older than the window
-- are deleted by the relays as they go.
CREATE TABLE cluster_duplicates (
	key bytea PRIMARY KEY,
	qid text NOT NULL,
	at  timestamptz NOT NULL,
	node text NOT NULL
);
CREATE INDEX cluster_duplicates_at ON cluster_duplicates (at);
