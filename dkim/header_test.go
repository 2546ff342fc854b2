package dkim

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

func TestHeaderValues(t *testing.T) {
	h := readTestHeader(t, "Received: one\r\n"+
		"to: a@example.net,\r\n\tb@example.net\r\n"+
		"Subject:   spaced   out  \r\n"+
		"RECEIVED:two\r\n"+
		"X-Empty:\r\n"+
		"X-Spaces:    \r\n"+
		"\r\n")
	tests := []struct {
		name string
		want []string
	}{
		{"Received", []string{"one", "two"}},
		{"received", []string{"one", "two"}},
		{"To", []string{"a@example.net,\tb@example.net"}},
		{"Subject", []string{"spaced   out"}},
		{"X-Empty", []string{""}},
		{"X-Spaces", []string{""}},
		{"Cc", nil},
	}
	for _, tt := range tests {
		if got := h.Values(tt.name); !slices.Equal(got, tt.want) {
			t.Errorf("Values(%q) = %q, want %q", tt.name, got, tt.want)
		}
		if got := h.Count(tt.name); got != len(tt.want) {
			t.Errorf("Count(%q) = %d, want %d", tt.name, got, len(tt.want))
		}
		if got := h.Has(tt.name); got != (len(tt.want) > 0) {
			t.Errorf("Has(%q) = %v", tt.name, got)
		}
	}
}

func TestHeaderAdd(t *testing.T) {
	long := "from app.example.org (app.example.org [192.0.2.1]) by relay.example.org (dkimrelay) with ESMTPSA id 0123456789abcdef for <bob@example.net>; Thu, 26 Nov 2026 07:06:00 +0000"
	tests := []struct {
		name, value string
		raw         string // what is written; "" to only check the limits
		value2      string // what Values returns
	}{
		{"X-Short", "value", "X-Short: value\r\n", "value"},
		{"X-Trim", "  \tpadded \t ", "X-Trim: padded\r\n", "padded"},
		{"X-Empty", "", "X-Empty: \r\n", ""},
		{"X-Inject", "a\r\nBcc: eve@example.com\nc\r", "X-Inject: a  Bcc: eve@example.com c\r\n", "a  Bcc: eve@example.com c"},
		{"Received", long, "", long},
		{"X-One-Word", strings.Repeat("w", 120), "X-One-Word: " + strings.Repeat("w", 120) + "\r\n", strings.Repeat("w", 120)},
		{"X-Spaces", strings.Repeat("w", 80) + "      " + strings.Repeat("v", 10), "", strings.Repeat("w", 80) + "      " + strings.Repeat("v", 10)},
	}
	for _, tt := range tests {
		h := readTestHeader(t, "From: a@example.org\r\n\r\n")
		h.Add(tt.name, tt.value)
		var out bytes.Buffer
		h.WriteTo(&out)
		raw, rest, _ := strings.Cut(out.String(), "From: ")
		if rest != "a@example.org\r\n\r\n" {
			t.Errorf("Add(%q) did not prepend: %q", tt.name, out.String())
		}
		if tt.raw != "" && raw != tt.raw {
			t.Errorf("Add(%q, %q) wrote %q, want %q", tt.name, tt.value, raw, tt.raw)
		}
		lines := strings.Split(strings.TrimSuffix(raw, "\r\n"), "\r\n")
		for i, l := range lines {
			if i > 0 && strings.Trim(l, " \t") == "" {
				t.Errorf("Add(%q) wrote a continuation line of only white space: %q", tt.name, raw)
			}
			text := l
			if i == 0 {
				text = strings.TrimPrefix(l, tt.name+": ")
			}
			if len(l) > maxLine && strings.ContainsAny(strings.TrimLeft(text, " \t"), " \t") {
				t.Errorf("Add(%q) left a foldable line of %d characters: %q", tt.name, len(l), l)
			}
			if strings.ContainsAny(l, "\r\n") {
				t.Errorf("Add(%q) wrote a bare CR or LF: %q", tt.name, raw)
			}
		}
		if got := h.Values(tt.name); len(got) != 1 || got[0] != tt.value2 {
			t.Errorf("after Add(%q), Values = %q, want [%q]", tt.name, got, tt.value2)
		}
		if h.Len() != out.Len() {
			t.Errorf("Len = %d, WriteTo wrote %d", h.Len(), out.Len())
		}
		// What Add writes must parse back to the same header.
		back := readTestHeader(t, out.String())
		if !slices.Equal(back.Values(tt.name), h.Values(tt.name)) {
			t.Errorf("Add(%q): reparsed value %q, want %q", tt.name, back.Values(tt.name), h.Values(tt.name))
		}
	}
}

func TestHeaderAddFoldsLongValue(t *testing.T) {
	h := new(Header)
	value := strings.TrimSpace(strings.Repeat("word ", 60))
	h.Add("Subject", value)
	var out bytes.Buffer
	h.WriteTo(&out)
	lines := strings.Split(strings.TrimSuffix(out.String(), "\r\n\r\n"), "\r\n")
	if len(lines) < 4 {
		t.Fatalf("a 300-character value was not folded: %q", out.String())
	}
	for _, l := range lines {
		if len(l) > maxLine {
			t.Errorf("line of %d characters: %q", len(l), l)
		}
	}
}

func TestHeaderAddPanicsOnBadName(t *testing.T) {
	for _, name := range []string{"", "Bad Name", "Bad:Name", "Nämé"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Add(%q) did not panic", name)
				}
			}()
			new(Header).Add(name, "x")
		}()
	}
}

func TestHeaderAddOrder(t *testing.T) {
	h := readTestHeader(t, "From: a@example.org\r\n\r\n")
	h.Add("X-First", "1")
	h.Add("X-Second", "2")
	var out bytes.Buffer
	h.WriteTo(&out)
	if want := "X-Second: 2\r\nX-First: 1\r\nFrom: a@example.org\r\n\r\n"; out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}

func TestZeroHeader(t *testing.T) {
	var h Header
	var out bytes.Buffer
	if n, err := h.WriteTo(&out); n != 2 || err != nil || out.String() != "\r\n" || h.Len() != 2 {
		t.Errorf("zero Header writes %q (%d, %v), Len %d", out.String(), n, err, h.Len())
	}
	if h.Has("From") || h.Count("From") != 0 || h.Values("From") != nil {
		t.Error("zero Header has fields")
	}
}
