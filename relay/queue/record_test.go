package queue

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestRecordGolden pins the .json layout: a change here is a change of the
// on-disk format, which a queue written by the previous version must
// survive.
func TestRecordGolden(t *testing.T) {
	received := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	rec, err := newRecord("01JNFX2V8Q3ZK7M4W9PA", Envelope{
		From:       "app@example.org",
		Rcpts:      []string{"a@example.net", "b@example.com"},
		User:       "mastodon",
		Signatures: []string{testSig},
		Received:   received,
	}, 1234, received)
	if err != nil {
		t.Fatal(err)
	}
	rec.Rcpts[0].State = Delivered
	rec.Rcpts[0].Attempts = 1
	rec.Rcpts[0].NextAttempt = time.Time{}
	rec.Rcpts[0].LastReply = "250 2.0.0 Ok: queued as 4F2"
	rec.Rcpts[1].State = Deferred
	rec.Rcpts[1].Attempts = 1
	rec.Rcpts[1].NextAttempt = received.Add(time.Minute)
	rec.Rcpts[1].LastReply = "451 4.7.1 greylisted"
	got, err := encodeRecord(rec)
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "record.golden.json")
	if *update {
		os.WriteFile(golden, got, 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("encoding differs from %s:\n%s", golden, got)
	}
	back, err := decodeRecord(want)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := encodeRecord(back); !bytes.Equal(again, want) {
		t.Errorf("decode then encode of the golden file differs:\n%s", again)
	}
	// Earlier versions wrote a recipient tried and deferred as queued:
	// such a queue loads with the recipient deferred.
	old := bytes.Replace(want, []byte(`"state": "deferred"`), []byte(`"state": "queued"`), 1)
	back, err = decodeRecord(old)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := encodeRecord(back); !bytes.Equal(again, want) {
		t.Errorf("a record of an earlier version decodes as:\n%s", again)
	}
}

func TestDecodeRecordRejects(t *testing.T) {
	good, err := os.ReadFile(filepath.Join("testdata", "record.golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := decodeRecord(good); err != nil {
		t.Fatalf("golden record: %v", err)
	}
	tests := []struct {
		name, old, new string
	}{
		{"trailing garbage", "\n}\n", "\n} x"},
		{"wrong version", `"version": 1`, `"version": 2`},
		{"bad ID", `"id": "01JNFX2V8Q3ZK7M4W9PA"`, `"id": "../01JNFX2V8Q3ZK7M4W"`},
		{"no received time", `"received": "2025-03-01T12:00:00Z"`, `"received": "0001-01-01T00:00:00Z"`},
		{"negative size", `"size": 1234`, `"size": -1`},
		{"unknown state", `"state": "delivered"`, `"state": "sent"`},
		{"no state", `"state": "delivered",`, ``},
		{"negative attempts", `"attempts": 1`, `"attempts": -1`},
		{"CR in recipient", `"addr": "a@example.net"`, `"addr": "a@example.net\rRSET"`},
		{"duplicate recipient", `"addr": "b@example.com"`, `"addr": "a@example.net"`},
		{"signature without CRLF", `b=def=\r\n"`, `b=def="`},
		{"no recipients", `"rcpts": [`, `"rcpts": [], "x": [`},
		{"null", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := []byte("null")
			if tt.old != "" {
				if !bytes.Contains(good, []byte(tt.old)) {
					t.Fatalf("golden file lacks %q", tt.old)
				}
				data = bytes.Replace(good, []byte(tt.old), []byte(tt.new), 1)
			}
			if _, err := decodeRecord(data); err == nil {
				t.Errorf("decodeRecord accepted:\n%s", data)
			}
		})
	}
}

func TestCheckHeaderField(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"DKIM-Signature: v=1; b=x\r\n", true},
		{"DKIM-Signature: v=1;\r\n\tb=x;\r\n b=y\r\n", true},
		{"DKIM-Signature:\r\n", true},
		{"DKIM-Signature: v=1", false},
		{"DKIM-Signature: v=1\n", false},
		{"DKIM-Signature: v=1\r\n\r\n", false},
		{"DKIM-Signature: v=1\rb=2\r\n", false},
		{"DKIM Signature: v=1\r\n", false},
		{"no colon\r\n", false},
		{": v=1\r\n", false},
		{"DKIM-Signature: v=1;\r\nFrom: evil\r\n", false},
		{"", false},
	}
	for _, tt := range tests {
		if err := checkHeaderField(tt.in); (err == nil) != tt.ok {
			t.Errorf("checkHeaderField(%q) = %v, want ok=%v", tt.in, err, tt.ok)
		}
	}
}

func TestStateText(t *testing.T) {
	for _, s := range []State{Queued, Deferred, Delivered, Bounced, Expired} {
		b, err := s.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back State
		if err := back.UnmarshalText(b); err != nil || back != s {
			t.Errorf("%v: round trip gave %v, %v", s, back, err)
		}
	}
	if _, err := State(0).MarshalText(); err == nil {
		t.Error("the zero State marshals")
	}
	if !strings.Contains(State(9).String(), "9") || Deferred.String() != "deferred" || Delivered.String() != "delivered" {
		t.Error("String methods")
	}
}

// FuzzDecodeEnvelope feeds the .json decoder arbitrary bytes: it must
// never panic, and whatever it accepts must encode and decode to the same
// record again (so a recovered message is rewritten faithfully).
func FuzzDecodeEnvelope(f *testing.F) {
	if good, err := os.ReadFile(filepath.Join("testdata", "record.golden.json")); err == nil {
		f.Add(good)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, err := decodeRecord(data)
		if err != nil {
			return
		}
		enc, err := encodeRecord(rec)
		if err != nil {
			t.Fatalf("accepted record does not encode: %v", err)
		}
		rec2, err := decodeRecord(enc)
		if err != nil {
			t.Fatalf("re-encoded record does not decode: %v\n%s", err, enc)
		}
		enc2, err := encodeRecord(rec2)
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not stable: %v\n%s\n%s", err, enc, enc2)
		}
	})
}
