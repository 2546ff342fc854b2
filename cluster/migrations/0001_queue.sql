-- The queue: one row per message with a recipient still pending, its
-- recipients, and its bytes in chunks (the message as accepted, without
-- the DKIM-Signature fields, which are in signatures).
CREATE TABLE queue_messages (
	id          text PRIMARY KEY,
	sender      text NOT NULL,
	login       text NOT NULL,
	received    timestamptz NOT NULL,
	size        bigint NOT NULL,
	signatures  text[] NOT NULL,
	accepted_by text NOT NULL,
	-- the earliest next attempt of a pending recipient
	due_at      timestamptz NOT NULL,
	-- the relay delivering it now, until lease_until
	lease_owner text,
	lease_token bigint,
	lease_until timestamptz
);
CREATE INDEX queue_messages_due ON queue_messages (due_at);
CREATE INDEX queue_messages_received ON queue_messages (received, id);

CREATE TABLE queue_recipients (
	message_id   text NOT NULL REFERENCES queue_messages ON DELETE CASCADE,
	pos          int NOT NULL,
	addr         text NOT NULL,
	state        text NOT NULL,
	attempts     int NOT NULL DEFAULT 0,
	next_attempt timestamptz,
	last_reply   text NOT NULL DEFAULT '',
	PRIMARY KEY (message_id, pos)
);

CREATE TABLE queue_chunks (
	message_id text NOT NULL,
	seq        int NOT NULL,
	data       bytea NOT NULL,
	PRIMARY KEY (message_id, seq)
);
-- Mail is mostly compressed already or small: spare the CPU.
ALTER TABLE queue_chunks ALTER COLUMN data SET STORAGE EXTERNAL;
