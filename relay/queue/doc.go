// Package queue is the relay's durable mail queue.
//
// A message is two files in one folder: <qid>.eml holds the message exactly
// as the relay accepted it (header and body, without the DKIM-Signature
// fields) and <qid>.json holds its envelope: sender, recipients with their
// delivery state, the submitting login, the time of arrival and the
// DKIM-Signature fields that are prepended when the message goes on the
// wire. Storing the signatures beside the body means a message is never
// rewritten after it is accepted.
//
// # Durability
//
// The .json file is the commit point. Draft.Commit flushes the .eml, writes
// <qid>.json.tmp, fsyncs both (written first, fsync'd after, so that a
// journaling file system commits them in one go), renames the .json.tmp to
// <qid>.json and fsyncs the directory; only then does it return nil, and
// only then may the SMTP server answer "250 2.0.0 OK: queued as QID" (RFC
// 5321 section 6.1: once a server has accepted responsibility for a
// message it must not lose it). A crash at any earlier point leaves a .eml without a .json, or a
// .json.tmp, both of which Open removes because they were never
// acknowledged.
//
// Directory fsyncs are group-committed: sessions committing at the same
// time share one fsync (see dirSyncer), so N concurrent commits cost about
// one directory fsync instead of N.
//
// Every later state change (a recipient delivered, bounced, expired or
// deferred) rewrites the .json the same way: tmp, fsync, rename, directory
// fsync. A message with no recipient left queued is removed, .json first so
// that a crash between the two removals leaves only an orphaned .eml. The
// removal of a message delivered to everyone is not fsync'd: a crash that
// undoes it sends the message again, as at-least-once allows.
//
// Delivery is at-least-once: a crash after a remote server accepted a
// message but before Record recorded it sends the message again; nothing
// acknowledged is ever dropped. A bounce is queued before the failure it
// reports is recorded, while the message is still on disk to quote: a
// crash in between repeats the bounce, never loses it.
//
// # Recovery
//
// Open loads every <qid>.json that parses and whose .eml has the recorded
// size. Leftover .json.tmp files and .eml files without a .json are removed.
// A .json that does not parse or whose .eml is missing or truncated is moved
// to the damaged/ subfolder and reported with the log event
// "queue_damaged"; the rest of the queue loads. With
// Options.LoadInBackground, Open returns once it has listed the folder, and
// the loading (logged as "queue_loaded" when done) runs while new messages
// are committed: it touches only the files that listing found, and Close
// during it leaves every message on disk for the next Open.
//
// # Scheduling
//
// Next hands out one message at a time, exclusively, when at least one of
// its recipients is due. Record takes the attempt's outcomes (package
// outcome) and returns each recipient's new state: Delivered, Bounced for
// a permanent failure, or Deferred for a transient one, rescheduled with
// exponential backoff (MinRetry, doubling, capped at MaxRetry, ±10 %
// jitter) until Received+MaxLifetime has passed, after which a transient
// failure makes the recipient Expired. A recipient not tried yet is
// Queued.
package queue
