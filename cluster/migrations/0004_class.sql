-- The traffic class of each message ('bulk', or '' for transactional):
-- a due transactional message is leased before any bulk message
-- (docs/deliverability.md).
ALTER TABLE queue_messages ADD COLUMN class text NOT NULL DEFAULT '';
