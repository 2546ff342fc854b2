package logview

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
)

// FuzzLogLine feeds the log reader's line parser whatever a damaged file,
// a foreign program or an attacker's reply text can put on a line. Parse
// never panics; an event it accepts keeps its line as Raw, parses again to
// the same event, is found by the filters that name it, and formats with
// every field value printable: a value holding spaces, quotes or control
// characters (an escape sequence in a remote reply) is quoted so it cannot
// act on the terminal or be mistaken for another field. The seed corpus is
// testdata/fuzz/FuzzLogLine plus every line of the recorded log.
func FuzzLogLine(f *testing.F) {
	for _, name := range []string{"dkimrelay.log", "dkimrelay.log.1"} {
		b, err := os.ReadFile(filepath.Join("testdata", "recorded", name))
		if err != nil {
			f.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			f.Add(append([]byte(nil), sc.Bytes()...))
		}
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		e, err := Parse(line)
		if err != nil {
			if e != nil {
				t.Fatal("an event with an error")
			}
			return
		}
		if e.Name == "" {
			t.Fatal("an event without a name")
		}
		if !bytes.Equal(e.Raw, bytes.TrimRight(line, "\r\n")) {
			t.Fatalf("Raw %q is not the line %q", e.Raw, line)
		}
		for _, k := range []string{"time", "msg", "level", "qid"} {
			if _, ok := e.Fields[k]; ok {
				t.Fatalf("field %q left in Fields", k)
			}
		}
		again, err := Parse(e.Raw)
		if err != nil || again.Name != e.Name || again.QID != e.QID || !again.Time.Equal(e.Time) || len(again.Fields) != len(e.Fields) {
			t.Fatalf("Raw does not parse to the same event: %v", err)
		}
		if f := (Filter{QID: e.QID, Status: []string{strings.ToUpper(e.Name)}, Since: e.Time}); !f.Match(e) {
			t.Fatalf("the filter naming the event does not match it")
		}
		if rcpt, ok := e.Fields["rcpt"].(string); ok && !e.Mentions(strings.ToUpper(rcpt)) {
			t.Fatalf("the event does not mention its rcpt %q", rcpt)
		}

		out := Format(e, time.UTC)
		for k := range e.Fields {
			v := e.String(k)
			if v == "" {
				continue
			}
			q := quote(v)
			if !strings.Contains(out, " "+quote(k)+"="+q) {
				t.Fatalf("field %s=%q is not in %q", k, v, out)
			}
			if q != v {
				if u, err := strconv.Unquote(q); err != nil || u != v {
					t.Fatalf("value %q quoted as %q, which does not read back", v, q)
				}
			}
			for _, r := range q {
				if !unicode.IsPrint(r) {
					t.Fatalf("value %q written as %q, with the unprintable %U", v, q, r)
				}
			}
			if q == v && strings.ContainsAny(v, " \"=\\") {
				t.Fatalf("value %q written unquoted", v)
			}
		}
		// Nothing a damaged or edited file holds (event name, QID, keys
		// included) reaches the terminal unprintable.
		for _, r := range out {
			if !unicode.IsPrint(r) {
				t.Fatalf("line %q holds the unprintable %U", out, r)
			}
		}
	})
}
