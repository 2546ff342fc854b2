package relay

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dkimrelay/internal/testkit"
	"dkimrelay/resolver/dnstest"
)

// TestMetricsScrapeReadsNoKey: a scrape of /metrics reports the keys as of
// the last reload and reads no private key (parsing every key on every
// scrape cost CPU at each monitoring interval). Damaging the key file on
// disk changes nothing in the scrape; the next reload sees the damage.
func TestMetricsScrapeReadsNoKey(t *testing.T) {
	dns := dnstest.NewServer(t)
	h := testkit.PrepareRelay(t, testkit.RelaySetup[*Relay]{
		New:     newRelay,
		Config:  hardConfig(dns, hardOptions{}) + "[metrics]\nlisten = \"127.0.0.1:0\"\n",
		Domains: []string{hardDomain},
		DNS:     dns,
	})
	h.Start()
	k := h.Keys[hardDomain]
	gauge := `dkimrelay_dkim_key_age_seconds{algorithm="ed25519",domain="example.org",selector="` + k.Selector + `",state="active"}`
	scrape := func() string {
		t.Helper()
		resp, err := http.Get("http://" + h.Daemon.MetricsAddr() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if !strings.Contains(scrape(), gauge) {
		t.Fatalf("the scrape lacks %s", gauge)
	}
	pems, _ := filepath.Glob(filepath.Join(h.Config.KeysDir(), hardDomain, k.Selector+".pem"))
	if len(pems) != 1 {
		t.Fatalf("key files %v", pems)
	}
	if err := os.WriteFile(pems[0], []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if !strings.Contains(scrape(), gauge) {
			t.Fatal("a scrape read the key store: the damaged key vanished from the gauge without a reload")
		}
	}
	if err := h.Daemon.Reload(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(scrape(), gauge) {
		t.Error("after a reload the damaged key is still reported")
	}
}
