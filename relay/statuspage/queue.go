package statuspage

import (
	"time"

	"dkimrelay/relay/queue"
)

// Walker walks the queue's messages, as queue.Queue.Walk does.
type Walker func(fn func(*queue.Message) error) error

// QueueNow is the queue as the page shows it.
type QueueNow struct {
	// Messages counts the messages by state: "deferred" when one of its
	// recipients waits for a retry after a failure, "queued" when its
	// recipients have not been tried yet.
	Messages int
	Queued   int
	Deferred int
	// Recipients counts the recipients still to deliver.
	Recipients int
	// Classes are the messages per traffic class, transactional first.
	Classes []ClassCount
	// Oldest is when the oldest message was accepted; zero when empty.
	Oldest time.Time
}

// ClassCount is the queued and deferred messages of one traffic class.
type ClassCount struct {
	Class            string
	Queued, Deferred int
}

// summarizeQueue walks the queue once.
func summarizeQueue(walk Walker) QueueNow {
	var q QueueNow
	if walk == nil {
		return q
	}
	classes := map[string]*ClassCount{}
	walk(func(m *queue.Message) error {
		deferred := false
		pending := 0
		for _, r := range m.Rcpts {
			switch r.State {
			case queue.Deferred:
				deferred = true
				pending++
			case queue.Queued:
				pending++
			}
		}
		if pending == 0 {
			return nil // finished, leaving the queue
		}
		q.Messages++
		q.Recipients += pending
		class := m.Envelope.TrafficClass()
		c := classes[class]
		if c == nil {
			c = &ClassCount{Class: class}
			classes[class] = c
		}
		if deferred {
			q.Deferred++
			c.Deferred++
		} else {
			q.Queued++
			c.Queued++
		}
		if r := m.Envelope.Received; q.Oldest.IsZero() || r.Before(q.Oldest) {
			q.Oldest = r
		}
		return nil
	})
	for _, name := range []string{queue.ClassTransactional, queue.ClassBulk} {
		if c := classes[name]; c != nil {
			q.Classes = append(q.Classes, *c)
		} else {
			q.Classes = append(q.Classes, ClassCount{Class: name})
		}
	}
	return q
}
