package dkim

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

// TestOversignedNameIsNullString checks how go-msgauth treats a name listed
// in h= more often than the header has it: the extra instance must count as
// the null string (RFC 6376 section 5.4.2), so the signature verifies.
func TestOversignedNameIsNullString(t *testing.T) {
	key := ed25519TestKey(t)
	signed, sigs, h := signMessage(t, []Key{key}, []byte(testMessage))
	tags := sigTags(t, sigs[0])
	names := strings.Split(tags["h"], ":")
	listed := 0
	for _, n := range names {
		if n == "Subject" {
			listed++
		}
	}
	if listed != h.Count("Subject")+1 {
		t.Fatalf("h= lists Subject %d times for %d fields, want one more", listed, h.Count("Subject"))
	}
	if !slices.Contains(names, "List-Unsubscribe") || h.Has("List-Unsubscribe") {
		t.Fatalf("h=%s does not list the absent List-Unsubscribe", tags["h"])
	}
	if v := verify(t, signed, key)[0]; v.Err != nil {
		t.Fatalf("a signature with oversigned names does not verify: %v", v.Err)
	}
}

func TestOversigning(t *testing.T) {
	keys := []Key{ed25519TestKey(t), rsaTestKey(t)}
	signed, _, _ := signMessage(t, keys, []byte(testMessage))
	tests := []struct {
		field string
		// breaks is whether adding the field must break the signature.
		breaks bool
	}{
		{"Subject: You won a prize", true},
		{"From: Bank <security@bank.example>", true},
		{"To: victim@example.com", true},
		{"Cc: victim@example.com", true},
		{"Reply-To: attacker@example.com", true},
		{"Sender: Bank <security@bank.example>", true},
		{"Date: Fri, 27 Nov 2026 07:06:00 +0000", true},
		{"Message-ID: <replay@example.org>", true},
		{"List-Unsubscribe: <https://attacker.example/>", true},
		{"List-Unsubscribe-Post: List-Unsubscribe=One-Click", true},
		{"List-Id: <list.attacker.example>", true},
		{"LIST-ARCHIVE: <https://attacker.example/>", true},
		{"Content-Type: text/html", true},
		{"MIME-Version: 1.0", true},
		{"Content-Transfer-Encoding: base64", true},
		{"X-Foo: bar", false},
		{"Received: from mx.example.net by mx.example.com", false},
		{"Authentication-Results: mx.example.com; dkim=pass", false},
	}
	for _, tt := range tests {
		for _, where := range []string{"top", "bottom"} {
			t.Run(where+"/"+tt.field, func(t *testing.T) {
				msg := insertField(signed, tt.field, where)
				for i, v := range verify(t, msg, keys...) {
					if broke := v.Err != nil; broke != tt.breaks {
						t.Errorf("signature %d: verification error %v, want broken=%v", i, v.Err, tt.breaks)
					}
				}
			})
		}
	}
}

// insertField adds "field\r\n" at the top of msg's header or at its bottom,
// just before the empty line.
func insertField(msg []byte, field, where string) []byte {
	f := []byte(field + "\r\n")
	if where == "top" {
		return append(f, msg...)
	}
	i := bytes.Index(msg, []byte("\r\n\r\n")) + 2
	out := append([]byte(nil), msg[:i]...)
	out = append(out, f...)
	return append(out, msg[i:]...)
}
