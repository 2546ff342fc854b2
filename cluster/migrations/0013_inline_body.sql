-- A message that fits in one chunk (most: a few kilobytes) keeps its
-- bytes in its own row, body, instead of a row of queue_chunks: one
-- insert and one delete fewer per message. NULL: the bytes are in
-- queue_chunks. Stored uncompressed, in the row while it fits.
ALTER TABLE queue_messages ADD COLUMN body bytea;
ALTER TABLE queue_messages ALTER COLUMN body SET STORAGE EXTERNAL;
ALTER TABLE queue_messages SET (toast_tuple_target = 8160);
