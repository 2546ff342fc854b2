package dkim

import (
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"math/big"
	"slices"
	"strings"
	"testing"
)

func TestRecordValue(t *testing.T) {
	ed := testEd25519Key(t).Public().(ed25519.PublicKey)
	rs := &testRSAKey(t).PublicKey
	spki, err := x509.MarshalPKIXPublicKey(rs)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		pub  any
		want string
	}{
		{"ed25519", ed, "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(ed)},
		{"rsa", rs, "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(spki)},
	}
	for _, tt := range tests {
		got, err := RecordValue(tt.pub)
		if err != nil || got != tt.want {
			t.Errorf("%s: RecordValue = %q, %v; want %q", tt.name, got, err, tt.want)
		}
		r, err := ParseRecord(got)
		if err != nil {
			t.Fatalf("%s: ParseRecord(RecordValue): %v", tt.name, err)
		}
		if !r.Matches(tt.pub) {
			t.Errorf("%s: the record does not match its own key", tt.name)
		}
	}
	if !strings.HasPrefix(tests[1].want, "v=DKIM1; k=rsa; p=MIIBIjAN") {
		t.Errorf("RSA-2048 record %q does not hold a SubjectPublicKeyInfo", tests[1].want)
	}

	bad := []any{
		nil,
		"key",
		&rsa.PublicKey{N: new(big.Int).Lsh(big.NewInt(1), 767), E: 65537},
		ed25519.PublicKey(make([]byte, 31)),
		testEd25519Key(t), // a private key is not a public key
	}
	for _, pub := range bad {
		if v, err := RecordValue(pub); err == nil {
			t.Errorf("RecordValue(%T) = %q, want an error", pub, v)
		}
	}
}

func TestParseRecord(t *testing.T) {
	ed := testEd25519Key(t).Public().(ed25519.PublicKey)
	edB64 := base64.StdEncoding.EncodeToString(ed)
	rs := &testRSAKey(t).PublicKey
	spki, _ := x509.MarshalPKIXPublicKey(rs)
	rsaB64 := base64.StdEncoding.EncodeToString(spki)
	pkcs1B64 := base64.StdEncoding.EncodeToString(x509.MarshalPKCS1PublicKey(rs))
	other, _, _ := ed25519.GenerateKey(nil) // crypto/rand

	tests := []struct {
		name    string
		txt     string
		pub     any  // the key Matches is asked about
		matches bool // Matches(pub)
		check   func(t *testing.T, r Record)
		wantErr string // "" for success
	}{
		{name: "ed25519", txt: "v=DKIM1; k=ed25519; p=" + edB64, pub: ed, matches: true},
		{name: "rsa", txt: "v=DKIM1; k=rsa; p=" + rsaB64, pub: rs, matches: true},
		{name: "rsa is the default", txt: "p=" + rsaB64, pub: rs, matches: true, check: func(t *testing.T, r Record) {
			if r.KeyType != "rsa" || r.Version != "" || !slices.Equal(r.ServiceTypes, []string{"*"}) {
				t.Errorf("defaults: %+v", r)
			}
		}},
		{name: "rsa PKCS#1", txt: "v=DKIM1; p=" + pkcs1B64, pub: rs, matches: true},
		{name: "white space everywhere", txt: " v = DKIM1 ;\tk = ed25519 ;\r\n p = " + edB64[:10] + " \r\n\t" + edB64[10:] + " ; ", pub: ed, matches: true},
		{name: "split p of a long key", txt: "v=DKIM1; k=rsa; p=" + rsaB64[:200] + " " + rsaB64[200:], pub: rs, matches: true},
		{name: "other key", txt: "v=DKIM1; k=ed25519; p=" + edB64, pub: other, matches: false},
		{name: "other algorithm", txt: "v=DKIM1; k=ed25519; p=" + edB64, pub: rs, matches: false},
		{name: "nil key", txt: "v=DKIM1; k=ed25519; p=" + edB64, pub: nil, matches: false},
		{name: "h=sha256", txt: "v=DKIM1; h=sha1:sha256; k=ed25519; p=" + edB64, pub: ed, matches: true},
		{name: "h=sha1 only", txt: "v=DKIM1; h=sha1; k=ed25519; p=" + edB64, pub: ed, matches: false},
		{name: "s=email", txt: "v=DKIM1; k=ed25519; s=email; p=" + edB64, pub: ed, matches: true},
		{name: "s=other", txt: "v=DKIM1; k=ed25519; s=other; p=" + edB64, pub: ed, matches: false},
		{name: "flags and notes", txt: "v=DKIM1; k=ed25519; t=y:s; n=notes here; p=" + edB64, pub: ed, matches: true, check: func(t *testing.T, r Record) {
			if !slices.Equal(r.Flags, []string{"y", "s"}) {
				t.Errorf("Flags = %q", r.Flags)
			}
		}},
		{name: "revoked", txt: "v=DKIM1; k=rsa; p=", pub: rs, matches: false, check: func(t *testing.T, r Record) {
			if !r.Revoked() {
				t.Error("not Revoked")
			}
		}},
		{name: "unknown tag", txt: "v=DKIM1; k=ed25519; x_new=1; p=" + edB64, pub: ed, matches: true},
		{name: "missing p", txt: "v=DKIM1; k=rsa", wantErr: "no p= tag"},
		{name: "v not first", txt: "k=rsa; v=DKIM1; p=" + rsaB64, wantErr: "must be the first tag"},
		{name: "wrong version", txt: "v=DKIM2; p=" + rsaB64, wantErr: "version \"DKIM2\""},
		{name: "duplicate tag", txt: "v=DKIM1; p=" + rsaB64 + "; p=" + rsaB64, wantErr: "duplicate tag p="},
		{name: "not tag=value", txt: "v=DKIM1; hello; p=" + rsaB64, wantErr: "not a tag=value pair"},
		{name: "bad tag name", txt: "v=DKIM1; 1k=rsa; p=" + rsaB64, wantErr: "invalid tag name"},
		{name: "unknown key type", txt: "v=DKIM1; k=dsa; p=" + rsaB64, wantErr: "unsupported key type k=dsa"},
		{name: "bad base64", txt: "v=DKIM1; p=!!!!", wantErr: "not valid base64"},
		{name: "rsa tag, ed25519 key", txt: "v=DKIM1; k=rsa; p=" + edB64, wantErr: "not an RSA public key"},
		{name: "ed25519 tag, rsa key", txt: "v=DKIM1; k=ed25519; p=" + rsaB64, wantErr: "Ed25519 key of 294 bytes"},
		{name: "empty", txt: "", wantErr: "no p= tag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseRecord(tt.txt)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseRecord error %v, want one saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseRecord: %v", err)
			}
			if got := r.Matches(tt.pub); got != tt.matches {
				t.Errorf("Matches = %v, want %v", got, tt.matches)
			}
			if tt.check != nil {
				tt.check(t, r)
			}
		})
	}
}
