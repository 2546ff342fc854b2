// Package queue is the relay's durable mail queue.
//
// A message is one file in one folder, <qid>.msg: the message exactly as
// the relay accepted it (header and body, without the DKIM-Signature
// fields), followed by a trailer holding its envelope record (sender,
// recipients with their delivery state, the submitting login, the time of
// arrival and the DKIM-Signature fields prepended when the message goes on
// the wire), the record's length and its CRC-32C (see trailer.go). Storing
// the signatures beside the body means a message is never rewritten after
// it is accepted. A later state (a recipient delivered, deferred, bounced,
// expired) goes to <qid>.json beside it, which then supersedes the
// trailer.
//
// Queues written by earlier versions hold a message as two files,
// <qid>.eml (the message) and <qid>.json (its record, the commit point);
// they load, deliver and change state as they always did, in that layout.
//
// # Durability
//
// The trailer is the commit point. NewDraft takes an empty <qid>.msg
// from the pool of spares (below), or creates one under its final name,
// and Write streams the message into it; Draft.Commit appends the trailer
// (through the same buffer: a small message and its trailer are one
// write(2)), fsyncs the file, closes it and, for a file it created
// itself, fsyncs the directory, which makes the file's name durable; only
// then does it return nil, and only then may the SMTP server answer "250
// 2.0.0 OK: queued as QID" (RFC 5321 section 6.1: once a server has
// accepted responsibility for a message it must not lose it). One file
// fsync a message, plus a (shared) directory fsync without a spare. A
// crash at any earlier point leaves a .msg without a
// valid trailer (none, torn, zeros, a checksum that does not match), which
// Open removes because it was never acknowledged. The record names the
// queue ID, 48 random bits the client only learns in the 250 reply: a
// message cannot carry bytes that would pass for the trailer of a draft
// cut short.
//
// Directory fsyncs are group-committed: sessions committing at the same
// time share one fsync (see dirSyncer), so N concurrent commits cost about
// one directory fsync instead of N.
//
// # Spares
//
// With Options.Spares, a goroutine keeps that many empty <qid>.msg files
// created ahead of need (see spares.go), held open, each with a fresh
// queue ID. It creates a batch when the pool is down to half, then runs a
// directory fsync (through dirSyncer, so one that began after the last
// creation of the batch), and adds the batch to the pool only once that
// fsync returned nil. So a spare's directory entry is durable before any
// draft can have it: for a message written into a spare, the fsync of the
// file (its data, its size and the trailer) is all that is missing at
// Commit, and the 250 after it is as safe as after a directory fsync. A
// batch whose fsync fails is removed and never handed out; the drafts
// then create their own files and their commits fsync the directory,
// failing as they must while the fault lasts. A spare not taken within
// spareMaxAge is removed and replaced, so that a queue ID's time (which
// orders the folder and the logs; a message's arrival is its envelope's
// Received, not its ID's time) stays close to the message's arrival.
// Spares are not messages: not in the index, not counted or listed, named
// by IsSpare; Close removes them, and after a crash Open removes them as
// unfinished drafts (a .msg without a trailer). Open creates them after
// it has listed the folder, so a background load never sees them.
//
// Every later state change rewrites <qid>.json atomically: <qid>.json.tmp,
// fsync, rename, directory fsync. A message with no recipient left queued
// is removed, its .msg first, then its .json if it has one: a crash in
// between leaves a .json whose record says single_file and whose .msg is
// gone, which Open takes for the tail of a removal and removes. (For an
// earlier version's pair, the .json goes first, so that a crash between
// the two removals leaves only an orphaned .eml.) The removal of a message
// delivered to everyone is not fsync'd: a crash that undoes it sends the
// message again, as at-least-once allows; a message delivered at its
// first attempt costs one unlink(2).
//
// Delivery is at-least-once: a crash after a remote server accepted a
// message but before Record recorded it sends the message again; nothing
// acknowledged is ever dropped. A bounce is queued before the failure it
// reports is recorded, while the message is still on disk to quote: a
// crash in between repeats the bounce, never loses it.
//
// # Recovery
//
// Open loads every message: from its <qid>.json when it has one (checking
// that the message file is there and long enough), else from the trailer
// of its <qid>.msg. Leftover .json.tmp files, .msg files without a valid
// trailer, .json files of removed single-file messages and .eml files
// without a .json are removed. A record that does not parse or does not
// hold up (a .json, or a trailer whose checksum matches), or whose message
// file is missing or truncated, is moved with its files to the damaged/
// subfolder and reported with the log event "queue_damaged"; the rest of
// the queue loads. With Options.LoadInBackground, Open returns once it has
// listed the folder, and the loading (logged as "queue_loaded" when done)
// runs while new messages are committed: it touches only the files that
// listing found, and Close during it leaves every message on disk for the
// next Open.
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
