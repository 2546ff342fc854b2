package dedup

import "context"

// Window is where the duplicate window lives: an Index in data_dir, or,
// when several relays share a database (docs/cluster.md), a table there,
// so that a message submitted again to another relay of the cluster is
// answered with the first one's queue ID as well.
type Window interface {
	// Lookup returns the queue ID of the message with key k accepted
	// within the window, or, when there is none, a Claim the caller ends
	// with Done once it has queued the message (or failed to). While a
	// Claim on k is held, Lookup of k waits for it.
	Lookup(ctx context.Context, k Key) (qid string, c Claim, err error)
}

// Claim is the right to queue a message whose Key is not in the window;
// identical messages arriving meanwhile wait for Done.
type Claim interface {
	// Done records that the claimed message was queued as qid, or, with
	// qid "", that it was not queued.
	Done(qid string) error
}
