-- The logins (users.toml) and the DKIM key store (keys/...), one row per
-- file, by path relative to data_dir: the truth every relay copies into
-- its own data_dir.
CREATE TABLE cluster_files (
	path       text PRIMARY KEY,
	body       bytea NOT NULL,
	updated_at timestamptz NOT NULL DEFAULT now(),
	updated_by text NOT NULL
);
