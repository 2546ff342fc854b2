package delivery

import (
	"errors"
	"io"
	"strings"
	"testing"
)

func TestLoadContent(t *testing.T) {
	big := strings.Repeat("a line of the body\r\n", smallMessage/20+10)
	tests := []struct {
		name      string
		msg       string
		want      content
		wantReads int // opens of the spool for the scan and two transactions
	}{
		{"ascii", "Subject: hi\r\n\r\nbody\r\n", content{}, 1},
		{"8-bit body", "Subject: hi\r\n\r\ncaf\xc3\xa9\r\n", content{eightBit: true}, 1},
		{"utf-8 header", "Subject: caf\xc3\xa9\r\n\r\nbody\r\n", content{eightBit: true, utf8Header: true}, 1},
		{"large, 8-bit at the end", "Subject: hi\r\n\r\n" + big + "caf\xc3\xa9\r\n", content{eightBit: true}, 3},
		{"large ascii", "Subject: hi\r\n\r\n" + big, content{}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opens := 0
			open := func() (io.ReadCloser, error) {
				opens++
				return io.NopCloser(strings.NewReader(tt.msg)), nil
			}
			got, reopen, err := loadContent(open, int64(len(tt.msg)))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("content = %+v, want %+v", got, tt.want)
			}
			for range 2 { // two transactions, e.g. two domains
				rc, err := reopen()
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(rc)
				rc.Close()
				if string(b) != tt.msg {
					t.Fatalf("reopened message differs: %d bytes, want %d", len(b), len(tt.msg))
				}
			}
			if opens != tt.wantReads {
				t.Errorf("spool opened %d times, want %d", opens, tt.wantReads)
			}
		})
	}
	if _, _, err := loadContent(func() (io.ReadCloser, error) { return nil, errors.New("gone") }, 0); err == nil {
		t.Error("loadContent hid an open error")
	}
}

// TestScanBytesAsScanContent holds the in-memory scan of a small message
// to what the streaming scan finds.
func TestScanBytesAsScanContent(t *testing.T) {
	for _, msg := range []string{
		"",
		"Subject: hi",
		"Subject: hi\r\n\r\nbody",
		"Subject: hi\n\nbody\n",
		"Subject: hi\r\n\r\ncaf\xc3\xa9",
		"Subject: caf\xc3\xa9\r\n\r\nbody\r\n",
		"Subject: hi\r\nX: \xff\r\n\r\n\r\n",
		"Subject: hi\r\n\r\n\r\nX: \xff\r\n",
		"\r\nSubject: caf\xc3\xa9\r\n",
		"Subject: hi\r\n\r\n" + strings.Repeat("x", 100) + "\xc3\xa9",
	} {
		want, err := scanContent(strings.NewReader(msg), len(msg))
		if err != nil {
			t.Fatal(err)
		}
		if got := scanBytes([]byte(msg)); got != want {
			t.Errorf("%q: scanBytes = %+v, scanContent = %+v", msg, got, want)
		}
	}
}
