-- A chunk of a small message (most of them: a few kilobytes) stays in its
-- row instead of being moved to the TOAST table, which cost two more
-- rows and index entries to write, read and delete per message; larger
-- chunks are still stored out of line, uncompressed.
ALTER TABLE queue_chunks SET (toast_tuple_target = 8160);
