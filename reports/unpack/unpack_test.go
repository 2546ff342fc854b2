package unpack

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"encoding/base64"
	"errors"
	"hash/crc32"
	"strings"
	"testing"
)

const report = `<feedback><report_metadata><org_name>r.example</org_name><report_id>1</report_id>
<date_range><begin>1795910400</begin><end>1795996799</end></date_range></report_metadata>
<policy_published><domain>example.org</domain></policy_published></feedback>`

func gz(b []byte) []byte {
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	w.Write(b)
	w.Close()
	return out.Bytes()
}

func zipOf(t *testing.T, files map[string][]byte) []byte {
	t.Helper()
	var out bytes.Buffer
	w := zip.NewWriter(&out)
	for name, b := range files {
		f, err := w.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		f.Write(b)
	}
	w.Close()
	return out.Bytes()
}

// lyingZip holds one member whose header claims 100 bytes while it
// inflates to n zero bytes, as a crafted bomb does.
func lyingZip(t *testing.T, n int) []byte {
	t.Helper()
	var deflated bytes.Buffer
	fw, _ := flate.NewWriter(&deflated, flate.BestCompression)
	fw.Write(make([]byte, n))
	fw.Close()
	var out bytes.Buffer
	w := zip.NewWriter(&out)
	h := &zip.FileHeader{Name: "bomb.xml", Method: zip.Deflate, CompressedSize64: uint64(deflated.Len()), UncompressedSize64: 100, CRC32: crc32.ChecksumIEEE(nil)}
	f, err := w.CreateRaw(h)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(deflated.Bytes())
	w.Close()
	return out.Bytes()
}

func message(ctype, cte string, body []byte) []byte {
	return []byte("From: r@example.net\r\nSubject: report\r\nMIME-Version: 1.0\r\nContent-Type: " + ctype + "\r\nContent-Transfer-Encoding: " + cte + "\r\n\r\n" + string(body))
}

func TestFound(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString(zipOf(t, map[string][]byte{"r.xml": []byte(report)}))
	spaced := strings.Join([]string{b64[:10], b64[10:30], b64[30:]}, " \r\n ")
	forwarded := message(`multipart/mixed; boundary="b"`, "7bit", []byte("--b\r\nContent-Type: text/plain\r\n\r\nFYI\r\n--b\r\nContent-Type: message/rfc822\r\n\r\n"+
		string(message("application/gzip", "base64", []byte(base64.StdEncoding.EncodeToString(gz([]byte(report))))))+"\r\n--b--\r\n"))
	tests := []struct {
		name      string
		in        []byte
		wantWhere string
	}{
		{"bare XML", []byte(report), ""},
		{"gzip", gz([]byte(report)), ""},
		{"gzip in two members", append(gz([]byte(report[:100])), gz([]byte(report[100:]))...), ""},
		{"gzip with trailing zeros", append(gz([]byte(report)), 0, 0, 0, 0), ""},
		{"zip", zipOf(t, map[string][]byte{"r.xml": []byte(report)}), "r.xml"},
		{"single-part message, base64 with white space", message("application/zip", "base64", []byte(spaced)), "attachment application/zip, r.xml"},
		{"forwarded message", forwarded, "forwarded message, attachment application/gzip"},
		{"inline XML message", message("text/plain", "7bit", []byte(report)), "attachment text/plain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			docs, problems := Bytes(tt.in, DefaultLimits)
			if len(problems) != 0 || len(docs) != 1 || docs[0].DMARC == nil {
				t.Fatalf("docs %+v, problems %v", docs, problems)
			}
			if docs[0].Where != tt.wantWhere {
				t.Errorf("where %q, want %q", docs[0].Where, tt.wantWhere)
			}
		})
	}
}

func TestLimits(t *testing.T) {
	small := Limits{Input: 1 << 20, Expanded: 1 << 20, Members: 2, Depth: 3}
	nested := []byte(report)
	for range 5 {
		nested = gz(nested)
	}
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"zip bomb", zipOf(t, map[string][]byte{"bomb.xml": make([]byte, 8<<20)}), "decompresses to more than 1 MiB"},
		{"gzip bomb", gz(make([]byte, 8<<20)), "decompresses to more than 1 MiB"},
		{"too many members", zipOf(t, map[string][]byte{"a": []byte(report), "b": []byte(report), "c": []byte(report)}), "more than 2 files"},
		{"nested too deep", nested, "nested more than 3 deep"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, problems := Bytes(tt.in, small)
			if len(problems) == 0 {
				t.Fatal("no problem reported")
			}
			err := problems[len(problems)-1]
			if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("problem %v, want ErrTooLarge containing %q", err, tt.want)
			}
		})
	}
	if _, problems := Read(bytes.NewReader(make([]byte, 2<<20)), small); len(problems) != 1 || !errors.Is(problems[0], ErrTooLarge) {
		t.Errorf("input over the limit: %v", problems)
	}
}

func TestNotAReport(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"binary", []byte{0, 1, 2, 3}, "neither a DMARC report"},
		{"plain message", message("text/plain", "7bit", []byte("hello")), "no DMARC or TLS report attached"},
		{"damaged zip", []byte("PK\x03\x04garbage"), "damaged zip archive"},
		// archive/zip stops reading a member at its declared size.
		{"zip member lying about its size", lyingZip(t, 8<<20), "damaged zip archive"},
		{"bad transfer encoding", message("application/zip", "uuencode", []byte("x")), "Content-Transfer-Encoding"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			docs, problems := Bytes(tt.in, DefaultLimits)
			if len(docs) != 0 || len(problems) != 1 || !strings.Contains(problems[0].Error(), tt.want) {
				t.Errorf("docs %v, problems %v; want one problem containing %q", docs, problems, tt.want)
			}
		})
	}
}
