-- The TLS reports (RFC 8460) that could not be sent yet: a policy
-- domain's counts whose _smtp._tls lookup failed temporarily or whose
-- report could not be queued, tried again from next_try on, by whichever
-- relay takes the row first, until a day has passed (docs/tls.md).
CREATE TABLE cluster_tlsrpt_pending (
	id       bigserial PRIMARY KEY,
	domain   text NOT NULL,
	next_try timestamptz NOT NULL,
	report   jsonb NOT NULL
);
CREATE INDEX cluster_tlsrpt_pending_next_try ON cluster_tlsrpt_pending (next_try);
