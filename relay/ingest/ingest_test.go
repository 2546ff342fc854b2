package ingest

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	msgauth "github.com/emersion/go-msgauth/dkim"

	"dkimrelay/config"
	"dkimrelay/dkim"
	"dkimrelay/internal/testkit"
	"dkimrelay/relay/queue"
)

func newKey(t *testing.T, domain, selector string) dkim.Key {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return dkim.Key{Domain: domain, Selector: selector, Signer: k}
}

// verify checks every DKIM signature of msg with go-msgauth, answering the
// key lookups from keys, and returns the d= domains that verified.
func verify(t *testing.T, msg []byte, keys []dkim.Key) []string {
	t.Helper()
	records := map[string]string{}
	for _, k := range keys {
		v, err := dkim.RecordValue(k.Signer.Public())
		if err != nil {
			t.Fatal(err)
		}
		records[k.Selector+"._domainkey."+k.Domain] = v
	}
	vs, err := msgauth.VerifyWithOptions(bytes.NewReader(msg), &msgauth.VerifyOptions{
		LookupTXT: func(name string) ([]string, error) {
			if v, ok := records[name]; ok {
				return []string{v}, nil
			}
			return nil, errors.New("no such record: " + name)
		},
	})
	if err != nil {
		t.Fatalf("verifying: %v", err)
	}
	var ok []string
	for _, v := range vs {
		if v.Err != nil {
			t.Errorf("signature of %s fails: %v", v.Domain, v.Err)
			continue
		}
		ok = append(ok, v.Domain)
	}
	return ok
}

const header = "From: Someone <someone@example.org>\r\nTo: a@example.net\r\nSubject: hello\r\n" +
	"Date: Mon, 02 Jan 2006 15:04:05 +0000\r\nMessage-ID: <1@example.org>\r\n\r\n"

// failingReader gives some bytes, then the error of a client that broke
// off mid-message.
type failingReader struct {
	r   io.Reader
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

func TestAccept(t *testing.T) {
	signing := []dkim.Key{newKey(t, "example.org", "a"), newKey(t, "example.org", "b")}
	own := []dkim.Key{newKey(t, "relay.test", "r")}
	big := strings.Repeat("a line of the body that is long enough to count\r\n", 20000) // ~1 MB: several buffers
	errClient := errors.New("client broke off")
	for _, tc := range []struct {
		name     string
		msg      Message
		wantMsg  string   // the stored message, without signatures
		wantSigs []string // d= of the signatures that verify
		wantErr  error
		wantLog  map[string]any
	}{{
		name: "submission, header read by the caller",
		msg: Message{From: "someone@example.org", Rcpts: []string{"a@example.net", "b@example.net"}, User: "app",
			Keys: signing, Header: readHeader(t, header), Body: strings.NewReader("Hi.\r\n"), Remote: "127.0.0.1:5000"},
		wantMsg:  header + "Hi.\r\n",
		wantSigs: []string{"example.org", "example.org"},
		wantLog: map[string]any{"user": "app", "from": "someone@example.org", "rcpts": []any{"a@example.net", "b@example.net"},
			"size": float64(len(header) + 5), "dkim": []any{"a", "b"}, "remote": "127.0.0.1:5000"},
	}, {
		name:     "large body, streamed",
		msg:      Message{From: "someone@example.org", Rcpts: []string{"a@example.net"}, User: "app", Keys: signing[:1], Header: readHeader(t, header), Body: strings.NewReader(big)},
		wantMsg:  header + big,
		wantSigs: []string{"example.org"},
		wantLog:  map[string]any{"size": float64(len(header) + len(big)), "dkim": []any{"a"}},
	}, {
		name: "bounce, header read by ingest",
		msg: Message{From: "", Rcpts: []string{"someone@example.org"}, Keys: own,
			Body: strings.NewReader(header + "Your message could not be delivered.\r\n"), Kind: "bounce", OrigQID: "Q1"},
		wantMsg:  header + "Your message could not be delivered.\r\n",
		wantSigs: []string{"relay.test"},
		wantLog:  map[string]any{"user": "", "from": "", "dkim": []any{"r"}, "kind": "bounce", "orig_qid": "Q1"},
	}, {
		name:    "unsigned without keys",
		msg:     Message{From: "", Rcpts: []string{"someone@example.org"}, Body: strings.NewReader(header + "x\r\n")},
		wantMsg: header + "x\r\n",
		wantLog: map[string]any{"dkim": []any{}},
	}, {
		name:    "the body's error is returned, nothing queued",
		msg:     Message{From: "someone@example.org", Rcpts: []string{"a@example.net"}, Keys: signing, Header: readHeader(t, header), Body: &failingReader{strings.NewReader(big), errClient}},
		wantErr: errClient,
	}, {
		name:    "a malformed header is refused",
		msg:     Message{Rcpts: []string{"a@example.net"}, Body: strings.NewReader("no colon here\r\n\r\nbody\r\n")},
		wantErr: dkim.ErrMalformedHeader,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "queue")
			q, err := queue.Open(queue.Options{Dir: dir, Delivery: config.Defaults().Delivery})
			if err != nil {
				t.Fatal(err)
			}
			logs := testkit.NewLogs(t)
			in := New(q, logs.Logger())
			qid, err := in.Accept(tc.msg)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Accept: %v, want %v", err, tc.wantErr)
				}
				if q.Len() != 0 || len(logs.Events("accepted")) != 0 {
					t.Errorf("a failed Accept left %d messages queued and logged %v", q.Len(), logs.Events("accepted"))
				}
				q.Close()
				return
			}
			if err != nil {
				t.Fatalf("Accept: %v", err)
			}
			// Durable: a queue opened afresh on the folder has it.
			q.Close()
			if q, err = queue.Open(queue.Options{Dir: dir, Delivery: config.Defaults().Delivery}); err != nil {
				t.Fatal(err)
			}
			defer q.Close()
			m, err := q.Get(qid)
			if err != nil {
				t.Fatalf("the queue reopened lacks %s: %v", qid, err)
			}
			if m.Envelope.From != tc.msg.From || !slices.Equal(m.Envelope.Rcpts, tc.msg.Rcpts) || m.Envelope.User != tc.msg.User {
				t.Errorf("envelope %+v, want from %q rcpts %q user %q", m.Envelope, tc.msg.From, tc.msg.Rcpts, tc.msg.User)
			}
			raw := readAll(t)(q.OpenRaw(qid))
			if string(raw) != tc.wantMsg {
				t.Errorf("stored message differs: %d bytes, want %d", len(raw), len(tc.wantMsg))
			}
			wire := readAll(t)(q.Open(m))
			if got := verify(t, wire, append(slices.Clone(signing), own...)); !slices.Equal(got, tc.wantSigs) {
				t.Errorf("verified signatures of %v, want %v", got, tc.wantSigs)
			}
			evs := logs.Events("accepted")
			if len(evs) != 1 {
				t.Fatalf("%d accepted events, want 1", len(evs))
			}
			ev := evs[0]
			if ev["qid"] != qid {
				t.Errorf("accepted qid %v, want %s", ev["qid"], qid)
			}
			if _, ok := ev["sign_time"]; ok != (len(tc.msg.Keys) > 0) {
				t.Errorf("sign_time logged: %v, want it when signing", ok)
			}
			for k, want := range tc.wantLog {
				if got := ev[k]; !equalJSON(got, want) {
					t.Errorf("accepted %s = %#v, want %#v", k, got, want)
				}
			}
		})
	}
}

func readHeader(t *testing.T, s string) *dkim.Header {
	t.Helper()
	h, err := dkim.ReadHeader(bufio.NewReader(strings.NewReader(s)), 0)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// readAll returns a function that reads what an opener returns.
func readAll(t *testing.T) func(io.ReadCloser, error) []byte {
	return func(rc io.ReadCloser, err error) []byte {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
}

func equalJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}
