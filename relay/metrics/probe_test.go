package metrics

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestProbe asks a real /healthz over loopback, as the container's health
// check does, including through an address on every interface.
func TestProbe(t *testing.T) {
	m := New(Options{NoProcess: true})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: m.HTTPHandler(nil)}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	_, port, _ := net.SplitHostPort(ln.Addr().String())

	for _, listen := range []string{ln.Addr().String(), "0.0.0.0:" + port, ":" + port} {
		if err := Probe(context.Background(), listen, 5*time.Second); err != nil {
			t.Errorf("Probe(%s): %v", listen, err)
		}
	}
	srv.Close()
	err = Probe(context.Background(), ln.Addr().String(), time.Second)
	if err == nil || !strings.Contains(err.Error(), "is the relay running?") {
		t.Errorf("Probe of a stopped relay: %v, want a failure asking whether it runs", err)
	}
	if err := Probe(context.Background(), "9187", time.Second); err == nil {
		t.Error("Probe accepted an address without a port")
	}
}
