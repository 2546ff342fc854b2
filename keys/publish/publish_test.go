package publish_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"dkimrelay/config"
	"dkimrelay/keys/publish"
	"dkimrelay/keys/publish/knottest"
)

// A 2048-bit RSA record: longer than one character-string.
const rsaValue = "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAx5uVFMsd7QhyU7kLbqEGkfG6lS+8ovSRsNu1oQpIzhUv6mSEtd5sLPLkzOM2AmWL1Zn9RDrz2LkX9ZqQuCeGzxqHBPdJSyWQp2M0dGbBcBrvt+1b8b7tTT5mbLqCZgX2fMOfo5W4dIXSOa25cxbWlmLMcIIqRh8jkBr9Ljv2/uGJN5M5ZCYw3aoYeYKXf/t2sRrPeTqvY3cxxsB+7wRVHfzXfnGxMmM3zM8UO9eZMx2iHd4GdV57iGj4yFVZQHQJlTw7QRgKzqKNMeDa7G2YwcGBwCMcrGHkYcXCHiU2ht8yqvsyeyYOYTxqRxMnNLMwLtoT3q/9nq8DFTHP1UHg3QIDAQAB"

const edValue = "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="

// options is what New takes: the [keys.publish] section and the secret.
type options struct {
	config.Publish
	Secret string
}

func updater(t *testing.T, srv *knottest.Server, edit func(*options)) *publish.Updater {
	t.Helper()
	opts := options{Publish: config.Defaults().Keys.Publish, Secret: srv.Secret}
	opts.Server, opts.TSIGKeyName, opts.TSIGAlgorithm = srv.Addr, srv.KeyName, srv.Algorithm
	opts.TTL, opts.Timeout = 300*time.Second, 5*time.Second
	if edit != nil {
		edit(&opts)
	}
	u, err := publish.New(opts.Publish, opts.Secret)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestPublishAndDeleteAgainstKnot(t *testing.T) {
	srv := knottest.Start(t, "example.org")
	u := updater(t, srv, nil)
	ctx := context.Background()
	name := "s202611r._domainkey.example.org"
	rec := publish.Record{Domain: "example.org", Name: name, Value: rsaValue}

	if err := u.Publish(ctx, rec); err != nil {
		t.Fatal(err)
	}
	got := srv.TXT(t, name)
	if len(got) != 1 || strings.Join(got[0], "") != rsaValue {
		t.Fatalf("after publishing, knot serves %q, want the RSA record", got)
	}
	for _, s := range got[0] {
		if len(s) > 255 {
			t.Errorf("a character-string of %d bytes", len(s))
		}
	}

	// Publishing another value replaces the record rather than adding a
	// second one, which verifiers could not choose between.
	rec.Value = edValue
	if err := u.Publish(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if got := srv.TXT(t, name); len(got) != 1 || !slices.Equal(got[0], []string{edValue}) {
		t.Fatalf("after publishing again, knot serves %q, want only %q", got, edValue)
	}

	// Another name in the zone stays as it is.
	other := publish.Record{Domain: "example.org", Name: "s2._domainkey.example.org", Value: rsaValue}
	if err := u.Publish(ctx, other); err != nil {
		t.Fatal(err)
	}
	if err := u.Delete(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if got := srv.TXT(t, name); got != nil {
		t.Errorf("after deleting, knot serves %q", got)
	}
	if got := srv.TXT(t, other.Name); len(got) != 1 {
		t.Errorf("deleting one record touched another: %q", got)
	}
	// Deleting again is no error: prune may be run again after a failure.
	if err := u.Delete(ctx, rec); err != nil {
		t.Errorf("deleting an absent record: %v", err)
	}
}

func TestPublishZoneOption(t *testing.T) {
	// The signing domain is a subdomain of the zone the server holds.
	srv := knottest.Start(t, "example.org")
	u := updater(t, srv, func(o *options) { o.Zone = "example.org" })
	rec := publish.Record{Domain: "mail.example.org", Name: "s1._domainkey.mail.example.org", Value: edValue}
	if err := u.Publish(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	if got := srv.TXT(t, rec.Name); len(got) != 1 {
		t.Errorf("knot serves %q", got)
	}
}

func TestPublishFailures(t *testing.T) {
	srv := knottest.Start(t, "example.org")
	rec := publish.Record{Domain: "example.org", Name: "s1._domainkey.example.org", Value: edValue}
	closed := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return ln.Addr().String()
	}()
	cases := []struct {
		name      string
		edit      func(*options)
		rec       publish.Record
		temporary bool
		want      []string // in the error text
	}{
		{"wrong secret", func(o *options) { o.Secret = "d3Jvbmd3cm9uZ3dyb25nd3Jvbmc=" }, rec, false,
			[]string{"does not accept TSIG key dkimrelay-test", "NOTAUTH", "tsig_key_name"}},
		{"unknown key", func(o *options) { o.TSIGKeyName = "someone-else" }, rec, false,
			[]string{"does not accept TSIG key someone-else", "NOTAUTH"}},
		{"wrong algorithm", func(o *options) { o.TSIGAlgorithm = "hmac-sha512" }, rec, false,
			[]string{"does not accept TSIG key", "NOTAUTH"}},
		{"zone the server does not hold", func(o *options) { o.Zone = "example.net" }, publish.Record{Domain: "example.net", Name: "s1._domainkey.example.net", Value: edValue}, false,
			[]string{"s1._domainkey.example.net", srv.Addr, "not authoritative for zone example.net"}},
		{"name the server's ACL does not allow", nil, publish.Record{Domain: "example.org", Name: "www.example.org", Value: edValue}, false,
			[]string{"does not accept TSIG key dkimrelay-test for this update", "ACL"}},
		{"record outside the zone", func(o *options) { o.Zone = "example.org" }, publish.Record{Domain: "example.com", Name: "s1._domainkey.example.com", Value: edValue}, false,
			[]string{"outside zone example.org", "keys.publish.zone"}},
		{"no server", func(o *options) { o.Server = closed; o.Timeout = time.Second }, rec, true,
			[]string{closed, "keys.publish.server"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := updater(t, srv, tc.edit)
			err := u.Publish(context.Background(), tc.rec)
			var pe *publish.Error
			if !errors.As(err, &pe) {
				t.Fatalf("got %v, want a *publish.Error", err)
			}
			if pe.Temporary() != tc.temporary {
				t.Errorf("Temporary() = %v, want %v (%v)", pe.Temporary(), tc.temporary, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), srv.Secret) {
				t.Error("the error shows the secret")
			}
		})
	}
	if got := srv.TXT(t, rec.Name); got != nil {
		t.Errorf("a refused update changed the zone: %q", got)
	}
}

// TestNewRefuses: New refuses a secret that cannot sign, and a section
// that is off or names an algorithm it cannot sign with; the section's
// other values (server, key name, TTL) are checked when the config is
// loaded (package config).
func TestNewRefuses(t *testing.T) {
	good := options{Publish: config.Defaults().Keys.Publish, Secret: "c2VjcmV0"}
	good.Server, good.TSIGKeyName = "127.0.0.1:53", "k"
	cases := []struct {
		name string
		edit func(*options)
	}{
		{"publishing off", func(o *options) { o.Server = "" }},
		{"unknown algorithm", func(o *options) { o.TSIGAlgorithm = "hmac-md5" }},
		{"secret not base64", func(o *options) { o.Secret = "not base64!" }},
		{"empty secret", func(o *options) { o.Secret = "" }},
	}
	if _, err := publish.New(good.Publish, good.Secret); err != nil {
		t.Fatalf("good options refused: %v", err)
	}
	for _, tc := range cases {
		o := good
		tc.edit(&o)
		if _, err := publish.New(o.Publish, o.Secret); err == nil {
			t.Errorf("%s: accepted", tc.name)
		} else if strings.Contains(err.Error(), "not base64!") {
			t.Errorf("%s: error shows the secret: %v", tc.name, err)
		}
	}
}
