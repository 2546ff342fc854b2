// Package control is the relay's local administration channel: a Unix
// socket in the data dir (mode 0600, so only the relay's own user can use
// it) over which the CLI asks the running relay to reload, or to show and
// act on its queue. Nothing listens on the network for administration.
//
// The protocol is one JSON request and one JSON response per connection:
//
//	{"command": "reload", "args": {...}}
//	{"ok": true, "result": ...}   or   {"ok": false, "error": "sentence"}
package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Request is what a client sends.
type Request struct {
	Command string          `json:"command"`
	Args    json.RawMessage `json:"args,omitempty"`
}

// Response is what the server answers.
type Response struct {
	OK     bool            `json:"ok"`
	Error  string          `json:"error,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
}

// Handler answers one command. args is the request's raw "args" (may be
// empty); the result is encoded as JSON.
type Handler func(ctx context.Context, args json.RawMessage) (any, error)

// maxRequest bounds a request: commands are small.
const maxRequest = 1 << 20

// Server serves the control socket.
type Server struct {
	path     string
	log      *slog.Logger
	handlers map[string]Handler

	mu sync.Mutex
	l  net.Listener
	wg sync.WaitGroup
}

// NewServer makes a server for the socket at path.
func NewServer(path string, log *slog.Logger) *Server {
	return &Server{path: path, log: log, handlers: map[string]Handler{}}
}

// Handle registers a command.
func (s *Server) Handle(command string, h Handler) { s.handlers[command] = h }

// Listen creates the socket, replacing a stale one left by a relay that
// died (the data dir lock proves no other relay owns it).
func (s *Server) Listen() error {
	// The socket is made in a fresh folder only this user can enter,
	// given mode 0600 there, then renamed into place: no other user can
	// reach it at any moment, without touching the process-wide umask
	// (which would race with files other goroutines create).
	// The names are short because a socket's path is limited to 107
	// bytes: this one is at most a byte longer than the final one.
	dir, err := os.MkdirTemp(filepath.Dir(s.path), ".c")
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	defer os.RemoveAll(dir)
	tmp := filepath.Join(dir, "s")
	l, err := net.Listen("unix", tmp)
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	// The socket's name changes below, so Close removes it by its final
	// name rather than the listener by the one it was bound to.
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	if err := os.Chmod(tmp, 0o600); err != nil {
		l.Close()
		return fmt.Errorf("control socket: %w", err)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		l.Close()
		return fmt.Errorf("control socket: %w", err)
	}
	s.mu.Lock()
	s.l = l
	s.mu.Unlock()
	return nil
}

// Serve accepts clients until Close.
func (s *Server) Serve() {
	for {
		c, err := s.l.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serve(c)
		}()
	}
}

func (s *Server) serve(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Minute))
	st, err := s.answer(c)
	if err != nil {
		err = json.NewEncoder(c).Encode(Response{Error: err.Error()})
	} else {
		err = writeStream(c, st)
	}
	if err != nil {
		s.log.Debug("control", "error", err.Error())
	}
}

// answer reads the request on c and runs its handler. A successful result
// comes back as a Stream, so that every answer is written one way.
func (s *Server) answer(c net.Conn) (Stream, error) {
	var req Request
	if err := json.NewDecoder(io.LimitReader(c, maxRequest)).Decode(&req); err != nil {
		return nil, errors.New("malformed request: " + err.Error())
	}
	h, ok := s.handlers[req.Command]
	if !ok {
		return nil, fmt.Errorf("unknown command %q: is the CLI newer than the running relay?", req.Command)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	res, err := h(ctx, req.Args)
	cancel()
	if err != nil {
		return nil, err
	}
	if st, ok := res.(Stream); ok {
		return st, nil
	}
	b, err := json.Marshal(res)
	if err != nil {
		return nil, err
	}
	return func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	}, nil
}

// Close removes the socket and waits for running commands.
func (s *Server) Close() error {
	s.mu.Lock()
	l := s.l
	s.mu.Unlock()
	if l == nil {
		return nil
	}
	err := l.Close()
	os.Remove(s.path)
	s.wg.Wait()
	return err
}

// ErrNotRunning means no relay answers on the socket.
var ErrNotRunning = errors.New("no relay is running")

// Call sends one command to the relay listening at path and decodes its
// result into out (which may be nil).
func Call(ctx context.Context, path, command string, args, out any) error {
	c, err := send(ctx, path, command, args)
	if err != nil {
		return err
	}
	defer c.Close()
	var resp Response
	if err := json.NewDecoder(c).Decode(&resp); err != nil {
		return fmt.Errorf("control socket: reading the answer: %w", err)
	}
	if !resp.OK {
		return errors.New(resp.Error)
	}
	if out != nil && len(resp.Result) > 0 {
		return json.Unmarshal(resp.Result, out)
	}
	return nil
}

// send connects to the relay at path and sends one request; the caller
// reads the answer and closes the connection.
func send(ctx context.Context, path, command string, args any) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("%w on %s (start it with `dkimrelay serve`): %v", ErrNotRunning, path, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	req := Request{Command: command}
	if args != nil {
		if req.Args, err = json.Marshal(args); err != nil {
			c.Close()
			return nil, err
		}
	}
	if err := json.NewEncoder(c).Encode(req); err != nil {
		c.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	return c, nil
}
