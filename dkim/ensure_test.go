package dkim

import (
	"net/mail"
	"regexp"
	"testing"
	"time"
)

func TestEnsureDate(t *testing.T) {
	zone := time.FixedZone("", -(3*60+30)*60)
	now := time.Date(2026, time.November, 6, 7, 8, 9, 0, zone)

	h := readTestHeader(t, "From: a@example.org\r\n\r\n")
	if !h.EnsureDate(now) {
		t.Fatal("EnsureDate did not add a Date")
	}
	got := h.Values("Date")
	if want := "Fri, 06 Nov 2026 07:08:09 -0330"; len(got) != 1 || got[0] != want {
		t.Fatalf("Date = %q, want %q", got, want)
	}
	parsed, err := mail.ParseDate(got[0])
	if err != nil {
		t.Fatalf("net/mail cannot parse %q: %v", got[0], err)
	}
	if !parsed.Equal(now) {
		t.Errorf("Date parses as %v, want %v", parsed, now)
	}
	if h.EnsureDate(now.Add(time.Hour)) || h.Count("Date") != 1 {
		t.Error("EnsureDate added a second Date")
	}

	h = readTestHeader(t, "DATE: Thu, 1 Jan 2026 00:00:00 +0000\r\nFrom: a@example.org\r\n\r\n")
	if h.EnsureDate(now) || h.Count("Date") != 1 {
		t.Error("EnsureDate added a Date to a header with DATE")
	}
}

func TestEnsureMessageID(t *testing.T) {
	re := regexp.MustCompile(`^<([a-z2-7]+)@example\.org>$`)
	seen := make(map[string]bool)
	for range 100 {
		h := readTestHeader(t, "From: a@example.org\r\n\r\n")
		if !h.EnsureMessageID("example.org") {
			t.Fatal("EnsureMessageID did not add a Message-ID")
		}
		ids := h.Values("Message-ID")
		if len(ids) != 1 {
			t.Fatalf("Message-ID fields: %q", ids)
		}
		m := re.FindStringSubmatch(ids[0])
		if m == nil {
			t.Fatalf("Message-ID %q is not <random@example.org>", ids[0])
		}
		random, err := messageIDEncoding.DecodeString(m[1])
		if err != nil || len(random)*8 < 128 {
			t.Fatalf("Message-ID %q: %d random bits (%v), want at least 128", ids[0], len(random)*8, err)
		}
		if _, err := (&mail.AddressParser{}).Parse("x " + ids[0]); err != nil {
			t.Errorf("Message-ID %q is not an addr-spec in angle brackets: %v", ids[0], err)
		}
		if seen[ids[0]] {
			t.Fatalf("Message-ID %q repeated", ids[0])
		}
		seen[ids[0]] = true
		if h.EnsureMessageID("example.org") || h.Count("Message-ID") != 1 {
			t.Fatal("EnsureMessageID added a second Message-ID")
		}
	}

	h := readTestHeader(t, "message-id: <given@example.org>\r\nFrom: a@example.org\r\n\r\n")
	if h.EnsureMessageID("example.org") || h.Values("Message-ID")[0] != "<given@example.org>" {
		t.Error("EnsureMessageID replaced or added to an existing message-id")
	}
}
