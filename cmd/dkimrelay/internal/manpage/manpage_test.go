package manpage

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var testCommands = []Command{
	{Name: "serve", Help: "run the relay"},
	{Name: "keys generate", Args: "--domain D [--algorithm A]", Help: "make a key"},
	{Name: "keys list", Args: "[--json]", Help: "list keys"},
	{Name: "verify", Args: "FILE|- [--ip IP]", Help: `check a message; \ and .dots`},
}

// requireTool fails under CI when a Debian tool is missing.
func requireTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found: install the Debian package %s", name, pkg)
	}
	return p
}

// TestRoffRendersCleanly renders the page with man-db, with warnings on, as
// lintian does: no warning, and every command with its arguments shows.
func TestRoffRendersCleanly(t *testing.T) {
	man := requireTool(t, "man", "man-db")
	p := Page{Name: "dkimrelay", Section: "8", Version: "1.2-3", Summary: "a relay", Synopsis: "[--config PATH] COMMAND",
		Description: []string{"First.", ".Second starts with a dot."},
		Commands:    testCommands,
		After:       []Section{{Title: "Exit status", Items: [][2]string{{"0", "success"}}}},
	}
	var b bytes.Buffer
	if err := p.WriteRoff(&b); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "dkimrelay.8")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(man, "--warnings", "-E", "UTF-8", "-l", "-Tutf8", path)
	cmd.Env = append(os.Environ(), "MANWIDTH=200", "MAN_KEEP_FORMATTING=0")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil || errb.Len() > 0 {
		t.Fatalf("man: %v\n%s\nsource:\n%s", err, errb.String(), b.String())
	}
	text := stripOverstrike(out.String())
	for _, want := range []string{"dkimrelay keys generate --domain D [--algorithm A]", "make a key", "dkimrelay verify FILE|- [--ip IP]",
		`check a message; \ and .dots`, ".Second starts with a dot.", "EXIT STATUS"} {
		if !strings.Contains(text, want) {
			t.Errorf("rendered page lacks %q:\n%s", want, text)
		}
	}
}

// stripOverstrike removes the backspace bold and underline of man's
// terminal output.
func stripOverstrike(s string) string {
	var out []rune
	for _, r := range s {
		if r == '\b' && len(out) > 0 {
			out = out[:len(out)-1]
			continue
		}
		out = append(out, r)
	}
	return string(out)
}

// TestBashCompletion sources the script in bash and asks it to complete.
func TestBashCompletion(t *testing.T) {
	bash := requireTool(t, "bash", "bash")
	var b bytes.Buffer
	if err := WriteBashCompletion(&b, "dkimrelay", testCommands, []string{"--config", "--help"}); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(t.TempDir(), "dkimrelay")
	if err := os.WriteFile(script, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		words string // the command line; the last word is completed
		want  string
	}{
		{"dkimrelay ''", "help serve keys verify"},
		{"dkimrelay k", "keys"},
		{"dkimrelay --config x.toml k", "keys"},
		{"dkimrelay keys ''", "generate list"},
		{"dkimrelay keys generate --", "--algorithm --config --domain --help"},
		{"dkimrelay keys list --j", "--json"},
		{"dkimrelay verify --", "--config --help --ip"},
		{"dkimrelay verify msg.eml --i", "--ip"},
		{"dkimrelay --", "--config --help"},
	}
	for _, tt := range tests {
		t.Run(tt.words, func(t *testing.T) {
			prog := "source " + script + "\nCOMP_WORDS=(" + tt.words + ")\nCOMP_CWORD=$((${#COMP_WORDS[@]} - 1))\n_dkimrelay\necho \"${COMPREPLY[*]}\"\n"
			out, err := exec.Command(bash, "--norc", "-c", prog).CombinedOutput()
			if err != nil {
				t.Fatalf("bash: %v\n%s", err, out)
			}
			if got := strings.TrimSpace(string(out)); got != tt.want {
				t.Errorf("completions %q, want %q", got, tt.want)
			}
		})
	}
}
