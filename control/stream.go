package control

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Stream is a result a Handler may return when it is large (the queue's
// list, say): the server calls it to write the result's JSON straight onto
// the connection, rather than building it in memory first, and
// CallStream passes it to its writer as it arrives.
type Stream func(w io.Writer) error

// okPrefix starts every successful answer the server writes; an answer
// that does not start with it is a Response with an error.
const okPrefix = `{"ok":true,"result":`

// okSuffix ends it.
const okSuffix = "}\n"

// writeStream writes a successful answer whose result st writes. Should st
// fail halfway, the answer is left without its end, which CallStream
// reports as an answer cut short.
func writeStream(w io.Writer, st Stream) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteString(okPrefix)
	if err := st(bw); err != nil {
		bw.Flush()
		return err
	}
	bw.WriteString(okSuffix)
	return bw.Flush()
}

// CallStream sends one command, like Call, and copies the JSON of its
// result to w as it arrives, without decoding it.
func CallStream(ctx context.Context, path, command string, args any, w io.Writer) error {
	c, err := send(ctx, path, command, args)
	if err != nil {
		return err
	}
	defer c.Close()
	br := bufio.NewReaderSize(c, 64<<10)
	head, err := br.Peek(len(okPrefix))
	if err != nil || string(head) != okPrefix {
		var resp Response
		if err := json.NewDecoder(br).Decode(&resp); err != nil {
			return fmt.Errorf("control socket: reading the answer: %w", err)
		}
		if !resp.OK {
			return errors.New(resp.Error)
		}
		_, err := w.Write(resp.Result)
		return err
	}
	br.Discard(len(okPrefix))
	// Everything up to the closing okSuffix is the result: hold back its
	// last bytes until the end shows they were the suffix.
	tw := &tailWriter{w: w, n: len(okSuffix)}
	if _, err := io.Copy(tw, br); err != nil {
		return fmt.Errorf("control socket: reading the answer: %w", err)
	}
	if !bytes.Equal(tw.tail, []byte(okSuffix)) {
		return errors.New("control socket: the answer was cut short (see the relay's log)")
	}
	return nil
}

// tailWriter passes on all but the last n bytes written to it.
type tailWriter struct {
	w    io.Writer
	n    int
	tail []byte
}

func (t *tailWriter) Write(p []byte) (int, error) {
	buf := append(t.tail, p...)
	if len(buf) <= t.n {
		t.tail = buf
		return len(p), nil
	}
	out := buf[:len(buf)-t.n]
	if _, err := t.w.Write(out); err != nil {
		return 0, err
	}
	t.tail = append([]byte(nil), buf[len(buf)-t.n:]...)
	return len(p), nil
}
