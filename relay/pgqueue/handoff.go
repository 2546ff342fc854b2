package pgqueue

import (
	"context"
	"sync"

	"dkimrelay/relay/queue"
)

// A message committed here while a delivery worker of this relay waits
// for work is leased in the same transaction that queues it and handed to
// that worker in memory, with its bytes when they fit in one chunk: no
// round trip to lease it, none to read it back. The lease is the one Next
// takes (same expiry, renewed the same way), so another relay takes the
// message over if this one dies before it is recorded, as for a message
// leased from the database. Bulk mail always goes through the database,
// where transactional mail due at the same time is leased first
// (docs/deliverability.md).

// spoolBuffers recycles the chunk buffers of the spools.
var spoolBuffers = sync.Pool{New: func() any { b := make([]byte, 0, chunkSize); return &b }}

// promise reserves a waiting worker for a message about to be committed
// and reports whether one was free; the caller ends the promise with
// handOff or broken.
func (s *Store) promise(m *queue.Message) bool {
	if m.Envelope.TrafficClass() == queue.ClassBulk {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.waiting <= len(s.ready)+s.promised {
		return false
	}
	s.promised++
	return true
}

// broken ends a promise whose commit failed.
func (s *Store) broken() {
	s.mu.Lock()
	s.promised--
	s.mu.Unlock()
}

// handOff ends a promise: m, committed under the lease token, waits in
// memory for the next worker, with body (nil: read from the database).
func (s *Store) handOff(m *queue.Message, token int64, body []byte) {
	s.mu.Lock()
	s.promised--
	s.inFlight[m.ID] = token
	if body != nil {
		s.bodies[m.ID] = body
	}
	s.ready = append(s.ready, m)
	s.mu.Unlock()
	s.kick()
}

// popReadyLocked returns the message handed off first, if any; s.mu is
// held.
func (s *Store) popReadyLocked() *queue.Message {
	if len(s.ready) == 0 {
		return nil
	}
	m := s.ready[0]
	s.ready[0] = nil
	s.ready = s.ready[1:]
	return m
}

// body returns the bytes of message id kept in memory, if any.
func (s *Store) body(id string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.bodies[id]
	return b, ok
}

// releaseReady gives up the leases of the messages handed off that no
// worker took (the relay is stopping), so that another relay delivers
// them at once instead of after the lease. A failure leaves them to
// expire.
func (s *Store) releaseReady() {
	s.mu.Lock()
	var ids []string
	var tokens []int64
	for _, m := range s.ready {
		ids = append(ids, m.ID)
		tokens = append(tokens, s.inFlight[m.ID])
		delete(s.inFlight, m.ID)
		delete(s.bodies, m.ID)
	}
	s.ready = nil
	s.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.lease/3)
	defer cancel()
	s.pool.Exec(ctx, `UPDATE queue_messages SET lease_owner = NULL, lease_token = NULL, lease_until = NULL
		WHERE id = ANY($1) AND lease_owner = $2 AND lease_token = ANY($3)`, ids, s.node, tokens)
}
