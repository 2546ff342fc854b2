package integration

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestOutboxDelivery: in outbox mode (the try-out relay's) a message is
// written, signed, to OUTBOX/QID.eml with the envelope in front, nothing
// else is left in the folder, and the verify command the relay logs for it
// passes, as does verify against the DNS.
func TestOutboxDelivery(t *testing.T) {
	t.Parallel()
	w, _, r := testbed(t, relayOptions{configure: func(c *relayConfig) {
		c.Delivery.Mode = "outbox"
		c.Delivery.Outbox = "outbox"
	}})
	msg := message{From: "Example <notifications@example.org>", To: "alice@example.net",
		Subject: "to the outbox", TestID: "outbox", Body: "Hello Alice.\n"}.bytes()
	rcpts := []string{"alice@example.net", "bob@example.com"}
	qid := r.submit(t, submission{from: "notifications@example.org", to: rcpts, msg: msg})

	ev := r.waitEvent(t, deliveryTimeout, "outbox", forQID(qid, ""))
	file := filepath.Join(r.dir, "outbox", qid+".eml")
	if ev.str("file") != file {
		t.Errorf("outbox event %v: want file %s", ev, file)
	}
	for _, rcpt := range rcpts {
		del := r.waitEvent(t, 5*time.Second, "delivered", forQID(qid, rcpt))
		if del.str("mx") != "outbox" || del.str("code") != "250" || !strings.Contains(del.str("reply"), file) {
			t.Errorf("delivered event %v: want mx outbox, code 250 and the file in the reply", del)
		}
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	envelope := "Return-Path: <notifications@example.org>\r\nDelivered-To: alice@example.net\r\nDelivered-To: bob@example.com\r\n"
	if !bytes.HasPrefix(data, []byte(envelope)) {
		t.Fatalf("outbox file starts %s, want the envelope fields %q", excerpt(data, 200), envelope)
	}
	assertUnchanged(t, msg, data[len(envelope):])
	verifyDKIM(t, w, data, algRSA)
	entries, err := os.ReadDir(filepath.Join(r.dir, "outbox"))
	if err != nil || len(entries) != 1 {
		t.Errorf("outbox holds %v (%v), want only %s.eml", entries, err, qid)
	}

	// The command the log gives, run as given from the relay's folder.
	args := strings.Fields(ev.str("verify"))
	if len(args) < 2 || args[0] != "dkimrelay" || !slices.Contains(args, "--offline") {
		t.Fatalf("outbox event's verify command %q: want `dkimrelay ... verify --offline FILE`", ev.str("verify"))
	}
	cmd := exec.Command(relayBinary, args[1:]...)
	cmd.Dir = r.dir
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "DKIM   pass    d=example.org") {
		t.Errorf("%s: %v\n%s", ev.str("verify"), err, out)
	}
	// Against the test DNS, which publishes the key.
	out2, err := r.run("", "verify", file)
	if err != nil || !strings.Contains(out2, "DKIM   pass    d=example.org") {
		t.Errorf("verify %s: %v\n%s", file, err, out2)
	}
}
