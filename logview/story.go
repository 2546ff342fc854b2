package logview

import (
	"context"
	"strings"
)

// Story is one message's life in the log: every event with its queue ID,
// in order, as `dkimrelay logs --id QID` prints them.
type Story struct {
	QID    string
	Events []*Event
}

// Search is what Find found, with what it passed over.
type Search struct {
	Stories []Story
	// More reports that more messages matched than the limit: the
	// stories are the most recent ones.
	More bool
	// Skipped counts the damaged or foreign lines passed over.
	Skipped int
	// Warnings are problems with whole files (see Reader.Warn).
	Warnings []string
}

// maxStoryEvents bounds the events kept of one message: a message to a
// hundred recipients retried for days tells a long story, and a page or
// terminal shows its beginning and the last events.
const maxStoryEvents = 500

// Find returns the stories of the messages query names: a queue ID (that
// message), or a recipient address, with or without angle brackets (the
// last limit messages sent to it, oldest first). It reads the log at path
// and its rotated files as Reader.Read does.
func Find(ctx context.Context, path, query string, limit int) (*Search, error) {
	query = strings.Trim(strings.TrimSpace(query), "<>")
	s := &Search{}
	if query == "" {
		return s, nil
	}
	qids := []string{query}
	if strings.Contains(query, "@") {
		var err error
		if qids, err = s.messagesTo(ctx, path, query, limit); err != nil || len(qids) == 0 {
			return s, err
		}
	}
	want := make(map[string]*Story, len(qids))
	for _, q := range qids {
		want[q] = &Story{QID: q}
	}
	r := &Reader{
		Path: path,
		Emit: func(e *Event) error {
			st := want[e.QID]
			if st == nil {
				return nil
			}
			if len(st.Events) == maxStoryEvents {
				// Keep the first half and the latest events.
				copy(st.Events[maxStoryEvents/2:], st.Events[maxStoryEvents/2+1:])
				st.Events = st.Events[:maxStoryEvents-1]
			}
			st.Events = append(st.Events, e)
			return nil
		},
		Warn: func(w string) { s.Warnings = append(s.Warnings, w) },
	}
	if err := r.Read(ctx); err != nil {
		return s, err
	}
	s.Skipped += r.Skipped
	for _, q := range qids {
		if st := want[q]; len(st.Events) > 0 {
			s.Stories = append(s.Stories, *st)
		}
	}
	return s, nil
}

// messagesTo lists the queue IDs of the last limit messages whose events
// name rcpt, the most recently mentioned last.
func (s *Search) messagesTo(ctx context.Context, path, rcpt string, limit int) ([]string, error) {
	var qids []string
	seen := map[string]bool{}
	r := &Reader{
		Path:   path,
		Filter: Filter{Rcpt: rcpt},
		Emit: func(e *Event) error {
			if e.QID == "" || seen[e.QID] {
				return nil
			}
			seen[e.QID] = true
			qids = append(qids, e.QID)
			if len(qids) > limit {
				delete(seen, qids[0])
				qids = qids[1:]
				s.More = true
			}
			return nil
		},
		Warn: func(w string) { s.Warnings = append(s.Warnings, w) },
	}
	err := r.Read(ctx)
	s.Skipped += r.Skipped
	return qids, err
}
