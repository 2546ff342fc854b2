-- The DMARC and TLS reports received (`dkimrelay reports`), each once by
-- kind, reporter (without regard to case) and report ID; body is the
-- stored report in JSON, as the files in data_dir/reports hold it.
CREATE TABLE cluster_reports (
	kind      text NOT NULL,
	reporter  text NOT NULL,
	report_id text NOT NULL,
	end_at    timestamptz NOT NULL,
	imported  timestamptz NOT NULL,
	body      bytea NOT NULL,
	PRIMARY KEY (kind, reporter, report_id)
);
CREATE INDEX cluster_reports_end ON cluster_reports (end_at);
