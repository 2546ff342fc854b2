package integration

import (
	"slices"
	"testing"
)

// TestSenderOversigned: the Sender field (RFC 5322 section 3.6.2) names
// who sent a message on behalf of From, and mail clients show it; the
// signature covers it and names it once more than the message has it
// (RFC 6376 sections 5.4.1 and 8.15), so a copy of a signed message given
// a Sender, or a second one, no longer verifies in any verifier.
// Each message has a body of its own: two the same within
// submission.duplicate_window would be one delivery.
func TestSenderOversigned(t *testing.T) {
	t.Parallel()
	w, sinks, r := testbed(t, relayOptions{})
	for _, tc := range []struct {
		id      string
		headers []string
	}{
		{"sender-absent", nil},
		{"sender-present", []string{"Sender: Mastodon <notifications@example.org>"}},
	} {
		msg := message{From: "Example <notifications@example.org>", To: "alice@example.net",
			Subject: "sender", TestID: tc.id, Headers: tc.headers, Body: "Hello Alice, " + tc.id + ".\n"}.bytes()
		r.submit(t, submission{from: "notifications@example.org", to: []string{"alice@example.net"}, msg: msg})
		got := sinks.waitForTestID(t, deliveryTimeout, tc.id)
		sigs := verifyDKIM(t, w, got.Data, algRSA)
		listed := 0
		for _, h := range signedHeaders(sigs[0]) {
			if h == "sender" {
				listed++
			}
		}
		if listed != len(tc.headers)+1 {
			t.Errorf("%s: h= lists Sender %d times for %d field(s), want one more: %v", tc.id, listed, len(tc.headers), signedHeaders(sigs[0]))
		}
		forged := append([]byte("Sender: Bank <security@bank.example>\r\n"), got.Data...)
		verifyBatch(t, w, []verifyCase{{name: tc.id + " given a Sender", data: forged, pass: func(dkimTags) bool { return false }}}, algRSA)
		if !slices.Contains(signedHeaders(sigs[0]), "from") {
			t.Errorf("%s: From is not signed", tc.id)
		}
	}
}
