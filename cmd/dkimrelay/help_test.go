package main

import (
	"strings"
	"testing"
)

// TestHelpFormats: the hidden `help --man` and `help --bash-completion`
// cover every command `help` lists.
func TestHelpFormats(t *testing.T) {
	usage := runCLI(t, "", "help")
	man := runCLI(t, "", "help", "--man")
	comp := runCLI(t, "", "help", "--bash-completion")
	if man.code != exitOK || comp.code != exitOK || !strings.HasPrefix(man.stdout, ".TH DKIMRELAY 8") || !strings.Contains(comp.stdout, "complete -o default -F _dkimrelay dkimrelay") {
		t.Fatalf("help --man: %d %q; help --bash-completion: %d %q", man.code, man.stderr, comp.code, comp.stderr)
	}
	for _, c := range leafCommands(commands(), "") {
		if !strings.Contains(usage.stdout, "  "+c.Name+" ") {
			t.Errorf("help lacks %q", c.Name)
		}
		if !strings.Contains(man.stdout, `\fBdkimrelay `+strings.ReplaceAll(c.Name, "-", `\-`)+`\fR`) {
			t.Errorf("the man page lacks %q", c.Name)
		}
		if !strings.Contains(comp.stdout, `"`+c.Name) {
			t.Errorf("the completion lacks %q", c.Name)
		}
	}
}

// TestHealthcheckWithoutMetrics: with no metrics.listen there is nothing to
// ask, and the error says what to set.
func TestHealthcheckWithoutMetrics(t *testing.T) {
	s := newKeysSetup(t, "")
	r := runCLI(t, "", "--config", s.config, "healthcheck")
	if r.code != exitFail || !strings.Contains(r.stderr, "metrics.listen is not set") {
		t.Errorf("healthcheck: exit %d %q", r.code, r.stderr)
	}
	r = runCLI(t, "", "healthcheck", "--listen", "127.0.0.1:1", "--timeout", "2s")
	if r.code != exitFail || !strings.Contains(r.stderr, "is the relay running?") {
		t.Errorf("healthcheck of nothing: exit %d %q", r.code, r.stderr)
	}
}
