package pgqueue

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/jackc/pgx/v5"

	"dkimrelay/relay/queue"
)

// Open returns what goes on the wire for m after DATA: its
// DKIM-Signature fields, then the stored message, read a chunk at a time.
func (s *Store) Open(m *queue.Message) (io.ReadCloser, error) {
	sigs := strings.Join(m.Envelope.Signatures, "")
	if body, ok := s.body(m.ID); ok { // handed off with its bytes (handoff.go)
		return io.NopCloser(io.MultiReader(strings.NewReader(sigs), bytes.NewReader(body))), nil
	}
	r, err := s.OpenRaw(m.ID)
	if err != nil {
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{io.MultiReader(strings.NewReader(sigs), r), r}, nil
}

// OpenRaw returns the stored message alone, without the signatures.
func (s *Store) OpenRaw(id string) (io.ReadCloser, error) {
	if !queue.ValidID(id) {
		return nil, fmt.Errorf("%w: %q is not a queue ID", queue.ErrNotFound, id)
	}
	r := &chunkReader{s: s, id: id}
	if err := r.fetch(); err != nil {
		return nil, err
	}
	if r.buf == nil {
		return nil, fmt.Errorf("%w: %s", queue.ErrNotFound, id)
	}
	return r, nil
}

// chunkReader reads a message's chunks one query at a time, so that only
// one chunk is in memory.
type chunkReader struct {
	s   *Store
	id  string
	seq int32
	buf []byte
	eof bool
}

// fetch reads the next chunk; at the end buf is nil.
func (r *chunkReader) fetch() error {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	var data []byte
	var err error
	inline := false
	if r.seq == 0 {
		// The message's own row holds the bytes of a message in one
		// chunk; a larger one's first chunk comes along.
		err = r.s.pool.QueryRow(ctx, `SELECT m.body IS NOT NULL, COALESCE(m.body, c.data) FROM queue_messages m
			LEFT JOIN queue_chunks c ON c.message_id = m.id AND c.seq = 0 WHERE m.id = $1`, r.id).Scan(&inline, &data)
		if err == nil && !inline && data == nil {
			err = pgx.ErrNoRows
		}
	} else {
		err = r.s.pool.QueryRow(ctx, "SELECT data FROM queue_chunks WHERE message_id = $1 AND seq = $2", r.id, r.seq).Scan(&data)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		r.buf, r.eof = nil, true
		return nil
	}
	if err != nil {
		return dbError("reading the message", err)
	}
	if data == nil {
		data = []byte{}
	}
	r.buf = data
	r.seq++
	// Only the last chunk is short: no query to find the end.
	r.eof = inline || len(data) < chunkSize
	return nil
}

func (r *chunkReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.eof {
			return 0, io.EOF
		}
		if err := r.fetch(); err != nil {
			return 0, err
		}
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

func (r *chunkReader) Close() error { r.buf, r.eof = nil, true; return nil }
