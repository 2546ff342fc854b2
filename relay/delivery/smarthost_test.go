package delivery

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"

	"dkimrelay/config"
	"dkimrelay/internal/testkit"
	"dkimrelay/relay/outcome"
	"dkimrelay/resolver"
)

func TestSmarthost(t *testing.T) {
	const password = "s3cret-Pa55"
	cert, pool := testkit.ServerCert(t, "smarthost.test")
	users := map[string]string{"relay": password}

	tests := []struct {
		name     string
		implicit bool
		opts     []sinkOption
		user     string
		password string
		pool     bool
		want     want
		wantAuth int // AUTH attempts the sink saw
		wantUser string
	}{
		{"STARTTLS and PLAIN", false, []sinkOption{withTLS(cert), withAuth([]string{"PLAIN", "LOGIN"}, users)},
			"relay", password, true, want{status: outcome.Delivered, code: 250, mx: "smarthost.test", tls: "TLS1.3", reply: "250", policy: PolicySmarthost}, 1, "relay"},
		{"STARTTLS and LOGIN", false, []sinkOption{withTLS(cert), withAuth([]string{"LOGIN"}, users)},
			"relay", password, true, want{status: outcome.Delivered, code: 250, mx: "smarthost.test", tls: "TLS1.3", reply: "250", policy: PolicySmarthost}, 1, "relay"},
		{"implicit TLS and PLAIN", true, []sinkOption{withAuth([]string{"PLAIN"}, users)},
			"relay", password, true, want{status: outcome.Delivered, code: 250, mx: "smarthost.test", tls: "TLS1.3", reply: "250", policy: PolicySmarthost}, 1, "relay"},
		{"no AUTH configured", false, []sinkOption{withTLS(cert)},
			"", "", true, want{status: outcome.Delivered, code: 250, mx: "smarthost.test", tls: "TLS1.3", reply: "250", policy: PolicySmarthost}, 0, ""},
		{"no STARTTLS offered", false, []sinkOption{withAuth([]string{"PLAIN"}, users)},
			"relay", password, true, want{status: outcome.Transient, mx: "smarthost.test", enhanced: "4.7.0", reply: "does not offer STARTTLS"}, 0, ""},
		{"untrusted certificate", false, []sinkOption{withTLS(cert), withAuth([]string{"PLAIN"}, users)},
			"relay", password, false, want{status: outcome.Transient, mx: "smarthost.test", enhanced: "4.7.0", reply: "TLS handshake with smarthost"}, 0, ""},
		{"wrong password", false, []sinkOption{withTLS(cert), withAuth([]string{"PLAIN"}, users)},
			"relay", "wrong-" + password, true, want{status: outcome.Transient, code: 535, mx: "smarthost.test", tls: "TLS1.3", enhanced: "4.7.8", reply: "rejected the login of relay: 535 5.7.8"}, 1, ""},
		{"no usable mechanism", false, []sinkOption{withTLS(cert), withAuth([]string{"XOAUTH2"}, users)},
			"relay", password, true, want{status: outcome.Transient, mx: "smarthost.test", reply: "offers neither AUTH PLAIN nor AUTH LOGIN"}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.dns.Add("smarthost.test. A 127.0.0.2")
			ln := e.ln2
			if tt.implicit {
				ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}})
			}
			s := serveSink(t, ln, tt.opts...)
			logs := testkit.NewLogs(t)
			d := e.deliverer(t, func(c *Config) {
				c.Mode = config.ModeSmarthost
				c.Smarthost = "smarthost.test:" + strconv.Itoa(e.port)
				c.SmarthostUser = tt.user
				c.SmarthostPassword = tt.password
				if tt.implicit {
					c.SmarthostTLS = config.TLSImplicit
				}
				if tt.pool {
					c.RootCAs = pool
				}
				c.Logger = slog.New(slog.NewJSONHandler(io.MultiWriter(logs, t.Output()), &slog.HandlerOptions{Level: slog.LevelDebug}))
			})
			rcpts := []string{"a@one.example", "b@two.example"}
			got := d.Deliver(context.Background(), message(body, rcpts...))
			check(t, got, rcpts, tt.want, tt.want)

			if authSeen := s.Stats().AuthAttempts; authSeen != tt.wantAuth {
				t.Errorf("sink saw %d AUTH attempts, want %d", authSeen, tt.wantAuth)
			}
			rec := s.Messages()
			if tt.want.status == outcome.Delivered {
				if len(rec) != 1 || strings.Join(rec[0].To, ",") != "a@one.example,b@two.example" ||
					rec[0].User != tt.wantUser || !rec[0].TLS {
					t.Errorf("sink got %+v, want one TLS transaction for both recipients by %q", rec, tt.wantUser)
				}
			} else if len(rec) != 0 {
				t.Errorf("sink got %+v", rec)
			}
			for _, r := range got {
				if tt.password != "" && strings.Contains(r.Reply, tt.password) {
					t.Errorf("reply leaks the password: %q", r.Reply)
				}
			}
			if tt.password != "" && strings.Contains(logs.String(), tt.password) {
				t.Error("logs leak the password")
			}
		})
	}
}

func TestRedact(t *testing.T) {
	tx := &txn{d: &Deliverer{cfg: Config{Delivery: config.Delivery{SmarthostUser: "relay"}, SmarthostPassword: "pw123"}}}
	for _, in := range []string{
		"535 bad pw123",
		"535 bad cHcxMjM=",              // base64("pw123")
		"535 bad AHJlbGF5AHB3MTIz echo", // base64("\0relay\0pw123")
	} {
		out := tx.redact(in)
		if strings.Contains(out, "pw123") || strings.Contains(out, "cHcxMjM=") || strings.Contains(out, "AHJlbGF5AHB3MTIz") ||
			!strings.Contains(out, "[redacted]") {
			t.Errorf("redact(%q) = %q", in, out)
		}
	}
}

// TestNewValidates: New checks what a mode needs of the caller; the
// section's own values (mode names, host:port, the smarthost's TLS and its
// default by port) are checked when the config is loaded (package config).
func TestNewValidates(t *testing.T) {
	res, err := resolver.New(resolver.Options{Servers: []string{"127.0.0.1:53"}})
	if err != nil {
		t.Fatal(err)
	}
	with := func(mode config.DeliveryMode, smarthost string) config.Delivery {
		d := section()
		d.Mode, d.Smarthost = mode, smarthost
		return d
	}
	mx := with(config.ModeMX, "")
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"mx defaults", Config{Delivery: mx, Hostname: "h", Resolver: res}, true},
		{"no hostname", Config{Delivery: mx, Resolver: res}, false},
		{"no section", Config{Hostname: "h", Resolver: res}, false},
		{"mx without resolver", Config{Delivery: mx, Hostname: "h"}, false},
		{"bad mode", Config{Delivery: with("carrier-pigeon", ""), Hostname: "h", Resolver: res}, false},
		{"smarthost by IP needs no resolver", Config{Delivery: with(config.ModeSmarthost, "127.0.0.1:587"), Hostname: "h"}, true},
		{"smarthost by name needs a resolver", Config{Delivery: with(config.ModeSmarthost, "smtp.example:587"), Hostname: "h"}, false},
	}
	for _, tt := range tests {
		_, err := New(tt.cfg)
		if (err == nil) != tt.ok {
			t.Errorf("%s: New error %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}

// TestSmarthostOpportunistic: smarthost_tls = "opportunistic" sends in
// plaintext to a smarthost that offers no STARTTLS, and still starts TLS
// (unverified) with one that does.
func TestSmarthostOpportunistic(t *testing.T) {
	cert, _ := testkit.ServerCert(t, "smarthost.test")
	for _, tt := range []struct {
		name    string
		opts    []sinkOption
		wantTLS string
	}{
		{"no STARTTLS offered", nil, ""},
		{"STARTTLS offered, untrusted certificate", []sinkOption{withTLS(cert)}, "TLS1.3"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.dns.Add("smarthost.test. A 127.0.0.2")
			s := serveSink(t, e.ln2, tt.opts...)
			d := e.deliverer(t, func(c *Config) {
				c.Mode = config.ModeSmarthost
				c.Smarthost = "smarthost.test:" + strconv.Itoa(e.port)
				c.SmarthostTLS = config.TLSOpportunistic
			})
			rcpts := []string{"a@one.example"}
			got := d.Deliver(context.Background(), message(body, rcpts...))
			w := want{status: outcome.Delivered, code: 250, mx: "smarthost.test", tls: tt.wantTLS, reply: "250", policy: PolicySmarthost}
			check(t, got, rcpts, w)
			if rec := s.Messages(); len(rec) != 1 || rec[0].TLS != (tt.wantTLS != "") {
				t.Errorf("sink got %+v, want one transaction, TLS %t", rec, tt.wantTLS != "")
			}
		})
	}
}
