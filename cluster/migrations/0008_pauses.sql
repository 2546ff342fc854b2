-- The providers' throttling pauses (delivery.provider_pause), one row per
-- provider: a provider that throttles one relay is paused for all until
-- `until`; `pauses` is the throttles in a row (the backoff), `reply` the
-- provider's answer.
CREATE TABLE cluster_pauses (
	provider   text PRIMARY KEY,
	until      timestamptz NOT NULL,
	pauses     int NOT NULL,
	reply      text NOT NULL,
	node       text NOT NULL,
	updated_at timestamptz NOT NULL DEFAULT now()
);
