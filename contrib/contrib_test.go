// Package contrib_test checks the files in contrib/: the systemd unit
// (with systemd-analyze where it is installed), the logrotate file and the
// example config.
package contrib_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"dkimrelay/config"
)

// unit parses a systemd unit file into section -> key -> values.
func unit(t *testing.T, path string) map[string]map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[':
			section = strings.Trim(line, "[]")
			out[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s: malformed line %q", path, line)
			}
			out[section][k] = append(out[section][k], v)
		}
	}
	return out
}

const unitPath = "systemd/dkimrelay.service"

// TestUnitDirectives checks what the unit must do, whether or not
// systemd is installed to verify it.
func TestUnitDirectives(t *testing.T) {
	u := unit(t, unitPath)
	svc := u["Service"]
	want := []struct{ key, value string }{
		{"User", "dkimrelay"},
		{"Group", "dkimrelay"},
		{"NoNewPrivileges", "true"},
		{"ProtectSystem", "strict"},
		{"ReadWritePaths", "/var/lib/dkimrelay"},
		{"AmbientCapabilities", "CAP_NET_BIND_SERVICE"},
		{"CapabilityBoundingSet", "CAP_NET_BIND_SERVICE"},
		{"ExecReload", "/bin/kill -HUP $MAINPID"},
		{"ExecStart", "/usr/local/bin/dkimrelay serve"},
	}
	for _, w := range want {
		if got := svc[w.key]; len(got) != 1 || got[0] != w.value {
			t.Errorf("[Service] %s = %q, want exactly %q", w.key, got, w.value)
		}
	}
	if got := u["Install"]["WantedBy"]; len(got) != 1 || got[0] != "multi-user.target" {
		t.Errorf("[Install] WantedBy = %q", got)
	}
	// The drain takes up to 30 s: systemd must wait longer before SIGKILL.
	if got := svc["TimeoutStopSec"]; len(got) != 1 || got[0] != "45s" {
		t.Errorf("TimeoutStopSec = %q, want 45s (the drain takes up to 30s)", got)
	}
	// Deliveries in progress stop after delivery.shutdown_timeout, then
	// the idle outbound sessions get up to 10 s for their QUIT: all of it
	// before systemd's SIGKILL.
	if d := config.Defaults().Delivery.ShutdownTimeout; d+10*time.Second >= 45*time.Second {
		t.Errorf("delivery.shutdown_timeout defaults to %v: with 10s for QUIT it reaches TimeoutStopSec (45s)", d)
	}
}

// TestUnitVerify runs `systemd-analyze verify` on the unit, with ExecStart
// pointed at a stand-in executable (verify checks that it exists). Any
// warning fails: systemd ignores a misspelt directive with only a warning.
func TestUnitVerify(t *testing.T) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("systemd-analyze is missing: install the Debian package systemd")
		}
		t.Skip("systemd-analyze is not installed (Debian package systemd)")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "dkimrelay")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(unitPath)
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.ReplaceAll(b, []byte("/usr/local/bin/dkimrelay"), []byte(bin))
	path := filepath.Join(dir, "dkimrelay.service")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(sa, "verify", path)
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

func TestLogrotate(t *testing.T) {
	b, err := os.ReadFile("logrotate/dkimrelay")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{"/var/lib/dkimrelay/dkimrelay.log {", "postrotate", "--signal=SIGUSR1 dkimrelay.service", "endscript", "compress"} {
		if !strings.Contains(s, want) {
			t.Errorf("logrotate file lacks %q", want)
		}
	}
	for _, line := range strings.Split(s, "\n") {
		if strings.TrimSpace(line) == "copytruncate" {
			t.Error("copytruncate loses lines; the relay reopens its log on SIGUSR1 instead")
		}
	}
	// The example config logs where logrotate looks.
	ex, err := os.ReadFile("dkimrelay.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse("/var/lib/dkimrelay/dkimrelay.toml", ex)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s, cfg.Log.File+" {") {
		t.Errorf("logrotate does not rotate the example config's log.file %s", cfg.Log.File)
	}
}

// TestExampleConfig: the example names every config key and gives each
// its default, except the values marked as differing.
func TestExampleConfig(t *testing.T) {
	const path = "dkimrelay.example.toml"
	ex, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var tree map[string]any
	if _, err := toml.Decode(string(b), &tree); err != nil {
		t.Fatal(err)
	}
	for _, key := range tomlKeys(reflect.TypeFor[config.Config](), "") {
		if !hasKey(tree, key) {
			t.Errorf("the example lacks %s", key)
		}
	}

	// The defaults, read the same way (paths resolved against the same
	// folder), with the values the example sets on purpose.
	abs, _ := filepath.Abs(path)
	def, err := config.Parse(abs, []byte(`hostname = "mail.example.org"
[[domains]]
name = "example.org"
[log]
file = "dkimrelay.log"
`))
	if err != nil {
		t.Fatal(err)
	}
	// %+v, not DeepEqual: an empty list and a missing one are the same
	// setting.
	if fmt.Sprintf("%+v", ex) != fmt.Sprintf("%+v", def) {
		t.Errorf("the example's values differ from the defaults:\n example: %+v\ndefaults: %+v", ex, def)
	}

	// Installed where the unit looks for it, the example keeps its data
	// dir and log where the unit lets the relay write.
	svc := unit(t, unitPath)["Service"]
	installed, err := config.Parse("/var/lib/dkimrelay/dkimrelay.toml", b)
	if err != nil {
		t.Fatal(err)
	}
	if env := "DKIMRELAY_CONFIG=" + installed.Path; svc["Environment"][0] != env {
		t.Errorf("the unit's Environment = %q, want %q", svc["Environment"], env)
	}
	rw := svc["ReadWritePaths"][0] + "/"
	for _, p := range []string{installed.DataDir, installed.Log.File} {
		if !strings.HasPrefix(p, rw) {
			t.Errorf("%s is outside the unit's ReadWritePaths %s", p, rw)
		}
	}
}

// tomlKeys lists the dotted keys of a config struct ("submission.listen").
func tomlKeys(t reflect.Type, prefix string) []string {
	var keys []string
	for f := range t.Fields() {
		name := f.Tag.Get("toml")
		if name == "" || name == "-" {
			continue
		}
		key := prefix + name
		ft := f.Type
		if ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct {
			keys = append(keys, tomlKeys(ft.Elem(), key+"[].")...)
			continue
		}
		if ft.Kind() == reflect.Struct {
			keys = append(keys, tomlKeys(ft, key+".")...)
			continue
		}
		keys = append(keys, key)
	}
	return keys
}

func hasKey(tree map[string]any, key string) bool {
	var node any = tree
	for _, part := range strings.Split(key, ".") {
		list := strings.HasSuffix(part, "[]")
		m, ok := node.(map[string]any)
		if !ok {
			return false
		}
		if node, ok = m[strings.TrimSuffix(part, "[]")]; !ok {
			return false
		}
		if list {
			l, ok := node.([]map[string]any)
			if !ok || len(l) == 0 {
				return false
			}
			node = l[0]
		}
	}
	return true
}
