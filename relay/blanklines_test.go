package relay

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"dkimrelay/internal/testkit"
	"dkimrelay/resolver/dnstest"
)

// TestBlankLinesMessageBoundedMemory submits a 24 MiB message of nothing
// but empty lines through the submission listener. The signer must hold
// the line breaks back (relaxed canonicalization drops them at the end of
// the body) without buffering them: the bytes the whole process allocates
// while the message goes in (runtime.MemStats.TotalAlloc, independent of
// when the collector runs) stay far below the message's size, and the
// message is accepted and signed.
func TestBlankLinesMessageBoundedMemory(t *testing.T) {
	const (
		bodySize = 24 << 20
		maxAlloc = 12 << 20
	)
	dns := dnstest.NewServer(t)
	h := newHardRelay(t, dns, hardOptions{delivery: `retry_min = "1h"` + "\n" + `retry_max = "1h"`})
	c := testkit.DialSubmission(t, h.Addr(), "app", testkit.Password)
	defer c.Close()
	if err := c.Mail("app@"+hardDomain, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("someone@example.net", nil); err != nil {
		t.Fatal(err)
	}
	head := hardMessage("blank", "someone@example.net")
	head = head[:strings.Index(head, "\r\n\r\n")+4]
	chunk := []byte(strings.Repeat("\r\n", 16<<10))

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, head)
	for n := 0; n < bodySize; n += len(chunk) {
		if _, err := w.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := w.CloseWithResponse()
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatalf("the message of empty lines was refused: %v", err)
	}
	if !strings.Contains(resp.StatusText, "queued as") {
		t.Fatalf("reply %q", resp.StatusText)
	}
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("%d KB allocated by the process while a %d MB message of empty lines went in", allocated>>10, bodySize>>20)
	if allocated > maxAlloc {
		t.Errorf("the relay allocated %d MB while taking a %d MB message of empty lines; the signer buffers them", allocated>>20, bodySize>>20)
	}
	ev := h.WaitEvent("accepted", 5*time.Second, nil)
	if ev == nil || fmt.Sprint(ev["dkim"]) == "[]" {
		t.Errorf("accepted event %v: the message is not signed", ev)
	}
}
