-- Message events (accepted, delivered, deferred, ...) of every relay, for
-- `dkimrelay logs --id` across the cluster; kept for
-- cluster.events_retention.
CREATE TABLE cluster_events (
	id   bigserial PRIMARY KEY,
	time timestamptz NOT NULL,
	node text NOT NULL,
	qid  text NOT NULL,
	msg  text NOT NULL,
	raw  text NOT NULL
);
CREATE INDEX cluster_events_qid ON cluster_events (qid, time);
CREATE INDEX cluster_events_time ON cluster_events (time);
