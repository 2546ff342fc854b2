-- The TLS demands of each message (RFC 8689): REQUIRETLS at MAIL FROM,
-- or TLS-Required: No in its header, kept with the envelope so that the
-- relay that delivers it keeps to them as the one that accepted it would.
ALTER TABLE queue_messages ADD COLUMN require_tls boolean NOT NULL DEFAULT false;
ALTER TABLE queue_messages ADD COLUMN tls_optional boolean NOT NULL DEFAULT false;
