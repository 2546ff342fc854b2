package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"
)

// Three independent DKIM verifiers check every message the tests deliver:
// go-msgauth (in process), dkimpy and Perl's Mail::DKIM (one process each
// per batch of messages). Each looks the keys up in the test's DNS server
// with its own DNS client. A message passes only when every verifier
// evaluated every one of its signatures and gave the verdict the test
// expects; otherwise the test fails and prints all verdicts side by side.

// dkimVerdict is one verifier's answer for one signature. The scripts in
// testdata print these as JSON.
type dkimVerdict struct {
	S      string `json:"s"` // selector
	A      string `json:"a"` // algorithm
	Pass   bool   `json:"pass"`
	Result string `json:"result"` // the verifier's own words
}

// verifyCase is one message for the verifiers.
type verifyCase struct {
	name string
	data []byte
	// pass tells whether a signature must verify; nil means every one must.
	pass func(dkimTags) bool
}

// dkimVerifier is one verifier that checks a batch of messages, given both
// as files and in memory, and returns the verdicts per message.
type dkimVerifier struct {
	name string
	// missing says what to install when the verifier cannot run at all;
	// noEd25519 when it runs but cannot check ed25519-sha256.
	missing, noEd25519 string
	run                func(w *world, files []string, data [][]byte) ([][]dkimVerdict, error)
}

func dkimVerifiers() []dkimVerifier {
	vs := []dkimVerifier{{name: "go-msgauth", run: runGoMsgauth}}

	py := dkimVerifier{name: "dkimpy", run: scriptVerifier(pythonPath, "testdata/dkimverify.py")}
	if pythonPath == "" {
		py.missing = debianPython + " with dkimpy, PyNaCl and dnspython not found: install the Debian package(s) python3-dkim python3-nacl"
	}
	vs = append(vs, py)

	pl := dkimVerifier{name: "Mail::DKIM", run: scriptVerifier(perlPath, "testdata/dkimverify.pl")}
	switch {
	case perlPath == "":
		pl.missing = debianPerl + " with Mail::DKIM and Net::DNS not found: install the Debian package(s) libmail-dkim-perl, then run scripts/install-mail-dkim.sh for Ed25519"
	case !mailDKIMEd25519:
		pl.noEd25519 = fmt.Sprintf("Mail::DKIM %s cannot verify ed25519-sha256 (it needs %s or later and CryptX): run scripts/install-mail-dkim.sh",
			mailDKIMVersion, mailDKIMFirstEd25519)
	}
	return append(vs, pl)
}

// runGoMsgauth verifies in process, asking the test DNS server.
func runGoMsgauth(w *world, _ []string, data [][]byte) ([][]dkimVerdict, error) {
	out := make([][]dkimVerdict, len(data))
	for i, msg := range data {
		verifs, err := dkim.VerifyWithOptions(bytes.NewReader(msg), &dkim.VerifyOptions{LookupTXT: w.lookupTXT})
		if err != nil {
			return nil, fmt.Errorf("message %d: %w", i, err)
		}
		// go-msgauth reports no selector or algorithm but keeps the
		// signatures' header order, which dkimSignatures also keeps.
		sigs := dkimSignaturesOf(msg)
		for k, v := range verifs {
			vd := dkimVerdict{Pass: v.Err == nil, Result: "pass"}
			if v.Err != nil {
				vd.Result = v.Err.Error()
			}
			if k < len(sigs) {
				vd.S, vd.A = sigs[k]["s"], sigs[k]["a"]
			}
			out[i] = append(out[i], vd)
		}
	}
	return out, nil
}

// scriptVerifier runs one of the testdata scripts over all files at once.
func scriptVerifier(interpreter, script string) func(*world, []string, [][]byte) ([][]dkimVerdict, error) {
	return func(w *world, files []string, _ [][]byte) ([][]dkimVerdict, error) {
		abs, err := filepath.Abs(script)
		if err != nil {
			return nil, err
		}
		cmd := exec.Command(interpreter, append([]string{abs, w.addr()}, files...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("%s: %w\n%s", script, err, stderr.String())
		}
		var verdicts [][]dkimVerdict
		if err := json.Unmarshal(out, &verdicts); err != nil {
			return nil, fmt.Errorf("%s printed %q: %w", script, excerpt(out, 500), err)
		}
		if len(verdicts) != len(files) {
			return nil, fmt.Errorf("%s answered for %d message(s) of %d", script, len(verdicts), len(files))
		}
		return verdicts, nil
	}
}

// verifyBatch runs every verifier over the cases and fails the test on any
// missing, extra or unexpected verdict. Every case must carry exactly one
// signature per algorithm in wantAlgs, all for d=example.org. It returns
// how many signatures each verifier evaluated.
func verifyBatch(t *testing.T, w *world, cases []verifyCase, wantAlgs ...string) int {
	t.Helper()
	want := slices.Sorted(slices.Values(wantAlgs))
	sigs := make([][]dkimTags, len(cases))
	hasEd25519, badSigs := false, false
	total := 0
	for i, c := range cases {
		sigs[i] = dkimSignatures(t, c.data)
		total += len(sigs[i])
		var algs []string
		for _, s := range sigs[i] {
			algs = append(algs, s["a"])
			hasEd25519 = hasEd25519 || s["a"] == algEd25519
			if s["d"] != "example.org" {
				t.Errorf("%s: DKIM-Signature d=%q, want example.org", c.name, s["d"])
				badSigs = true
			}
		}
		if slices.Sort(algs); !slices.Equal(algs, want) {
			t.Errorf("%s: DKIM-Signature algorithms %v, want %v; the message starts %s", c.name, algs, want, excerpt(c.data, 600))
			badSigs = true
		}
	}
	if badSigs {
		t.FailNow()
	}

	dir := t.TempDir()
	files := make([]string, len(cases))
	data := make([][]byte, len(cases))
	for i, c := range cases {
		files[i] = filepath.Join(dir, fmt.Sprintf("%03d.eml", i))
		data[i] = c.data
		if err := os.WriteFile(files[i], c.data, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	var ran []string
	got := map[string][][]dkimVerdict{}
	blind := map[string]string{} // verifier -> the algorithm it cannot check
	for _, v := range dkimVerifiers() {
		// Subtests, so that outside CI the other verifiers still count.
		if v.missing != "" {
			t.Run(v.name, func(t *testing.T) { requireCapability(t, false, v.missing) })
			continue
		}
		if hasEd25519 && v.noEd25519 != "" {
			// It still checks the other signatures.
			t.Run(v.name+"/"+algEd25519, func(t *testing.T) { requireCapability(t, false, v.noEd25519) })
			blind[v.name] = algEd25519
		}
		verdicts, err := v.run(w, files, data)
		if err != nil {
			t.Errorf("%s: %v", v.name, err)
			continue
		}
		ran = append(ran, v.name)
		got[v.name] = verdicts
	}

	for i, c := range cases {
		var problems []string
		for _, name := range ran {
			vs := got[name][i]
			if len(vs) != len(sigs[i]) && blind[name] == "" {
				problems = append(problems, fmt.Sprintf("%s evaluated %d signature(s), the message has %d", name, len(vs), len(sigs[i])))
			}
			for _, s := range sigs[i] {
				if blind[name] == s["a"] {
					continue
				}
				k := slices.IndexFunc(vs, func(v dkimVerdict) bool { return v.S == s["s"] && v.A == s["a"] })
				if k < 0 {
					problems = append(problems, fmt.Sprintf("%s did not evaluate s=%s a=%s", name, s["s"], s["a"]))
					continue
				}
				if wantPass := c.pass == nil || c.pass(s); vs[k].Pass != wantPass {
					problems = append(problems, fmt.Sprintf("%s: s=%s a=%s %s, want %s", name, s["s"], s["a"], passFail(vs[k].Pass), passFail(wantPass)))
				}
			}
		}
		if len(problems) > 0 {
			t.Errorf("%s: the verifiers disagree with the expected verdicts:\n  %s\n%s\nthe message starts %s",
				c.name, strings.Join(problems, "\n  "), verdictTable(c, sigs[i], ran, got, i), excerpt(c.data, 1200))
		}
	}
	t.Logf("%d message(s) with %d signature(s) checked by %s", len(cases), total, strings.Join(ran, ", "))
	return total
}

func passFail(ok bool) string {
	if ok {
		return "pass"
	}
	return "fail"
}

// verdictTable prints each verifier's verdict for each signature of case i.
func verdictTable(c verifyCase, sigs []dkimTags, ran []string, got map[string][][]dkimVerdict, i int) string {
	var b strings.Builder
	for _, s := range sigs {
		want := c.pass == nil || c.pass(s)
		fmt.Fprintf(&b, "  signature s=%s a=%s (want %s):\n", s["s"], s["a"], passFail(want))
		for _, name := range ran {
			verdict := "(not evaluated)"
			for _, v := range got[name][i] {
				if v.S == s["s"] && v.A == s["a"] {
					verdict = fmt.Sprintf("%s: %s", passFail(v.Pass), v.Result)
				}
			}
			fmt.Fprintf(&b, "    %-11s %s\n", name, verdict)
		}
	}
	return b.String()
}

// withVariants returns the cases and, for each, three altered copies:
//
//   - one changed only where relaxed canonicalization (RFC 6376 sections
//     3.4.2 and 3.4.4) cannot see it, which must still verify everywhere;
//   - one with an altered body, whose every signature must fail;
//   - one with an altered Ed25519 signature value, when there is one: that
//     signature must fail, the others still pass.
func withVariants(cases []verifyCase) []verifyCase {
	var out []verifyCase
	for _, c := range cases {
		out = append(out, c, verifyCase{
			name: c.name + " (whitespace changed, relaxed-equal)",
			data: relaxedEqual(c.data),
			pass: c.pass,
		}, verifyCase{
			name: c.name + " (body altered)",
			data: tamperBody(c.data),
			pass: func(dkimTags) bool { return false },
		})
		if b, ok := tamperSignature(c.data, algEd25519); ok {
			out = append(out, verifyCase{
				name: c.name + " (Ed25519 b= altered)",
				data: b,
				pass: func(s dkimTags) bool { return s["a"] != algEd25519 },
			})
		}
	}
	return out
}

// relaxedEqual changes only what relaxed canonicalization ignores: it puts
// whitespace after the colon of every header field but the signatures,
// turns each space in the body into a run of whitespace, ends each body
// line with a space and adds empty lines at the end of the body.
func relaxedEqual(msg []byte) []byte {
	var out bytes.Buffer
	start := 0
	for start < len(msg) {
		end := fieldEnd(msg, start)
		field := msg[start:end]
		if bytes.Equal(field, []byte("\r\n")) {
			break // the empty line before the body
		}
		name, value, ok := bytes.Cut(field, []byte(":"))
		if ok && !strings.EqualFold(string(name), "DKIM-Signature") {
			out.Write(name)
			out.WriteString(":\t ")
			out.Write(bytes.TrimLeft(value, " \t"))
		} else {
			out.Write(field)
		}
		start = end
	}
	if start >= len(msg) {
		return out.Bytes() // no body at all
	}
	out.WriteString("\r\n")
	lines := strings.Split(string(msg[start+2:]), "\r\n")
	for i, line := range lines {
		if i == len(lines)-1 {
			out.WriteString(line) // "" after the final CRLF
			break
		}
		out.WriteString(strings.ReplaceAll(line, " ", " \t") + " \r\n")
	}
	out.WriteString("\r\n \r\n\r\n")
	return out.Bytes()
}

// tamperBody changes the first body byte that is not a line end (to one
// that differs under relaxed canonicalization too), or adds a line to an
// empty body.
func tamperBody(msg []byte) []byte {
	out := bytes.Clone(msg)
	start := bytes.Index(out, []byte("\r\n\r\n"))
	if start < 0 {
		// Only a header: give it a body.
		return append(out, "\r\ntampered\r\n"...)
	}
	start += 4
	for i := start; i < len(out); i++ {
		if out[i] != '\r' && out[i] != '\n' {
			if out[i] == 'X' {
				out[i] = 'Y'
			} else {
				out[i] = 'X'
			}
			return out
		}
	}
	return append(out, "tampered\r\n"...)
}

// sigValue finds the start of the b= tag value (RFC 6376 section 3.5) in a
// folded DKIM-Signature field; the ";" keeps it from matching bh=.
var sigValue = regexp.MustCompile(`;[ \t\r\n]*b[ \t\r\n]*=[ \t\r\n]*([A-Za-z0-9+/])`)

// tamperSignature changes the first character of the b= value of the first
// signature with algorithm alg to another base64 character, so the value
// still decodes but no longer matches.
func tamperSignature(msg []byte, alg string) ([]byte, bool) {
	out := bytes.Clone(msg)
	algTag := regexp.MustCompile(`[:;][ \t\r\n]*a[ \t\r\n]*=[ \t\r\n]*` + regexp.QuoteMeta(alg) + `[ \t\r\n]*(;|$)`)
	for start := 0; start < len(out); {
		end := fieldEnd(out, start)
		field := out[start:end]
		if len(field) == 0 || field[0] == '\r' {
			break // the empty line: end of the header
		}
		name, _, _ := bytes.Cut(field, []byte(":"))
		if strings.EqualFold(string(bytes.TrimSpace(name)), "DKIM-Signature") && algTag.Match(field) {
			if m := sigValue.FindSubmatchIndex(field); m != nil {
				p := start + m[2]
				if out[p] == 'A' {
					out[p] = 'B'
				} else {
					out[p] = 'A'
				}
				return out, true
			}
		}
		start = end
	}
	return nil, false
}

// fieldEnd returns the offset just past the header field starting at start,
// continuation lines included.
func fieldEnd(msg []byte, start int) int {
	i := start
	for {
		nl := bytes.IndexByte(msg[i:], '\n')
		if nl < 0 {
			return len(msg)
		}
		i += nl + 1
		if i >= len(msg) || (msg[i] != ' ' && msg[i] != '\t') {
			return i
		}
	}
}
