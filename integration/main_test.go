package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// relayBinary is the dkimrelay program built once by TestMain for every test.
var relayBinary string

// External tools the tests drive. An empty path means the tool is missing;
// see requireTool.
var (
	swaksPath   string // swaks, a submission client
	pythonPath  string // Debian's python3 with dkimpy, PyNaCl and dnspython
	smtplibPath string // Debian's python3, for its smtplib
	rubyPath    string // Debian's ruby with the mail gem (ruby-mail)
	perlPath    string // Debian's perl with Mail::DKIM, Net::DNS and JSON::PP

	// mailDKIMVersion is Mail::DKIM's version, and mailDKIMEd25519 whether
	// it verifies ed25519-sha256 (RFC 8463): from 1.20230630 on, through
	// CryptX. Debian 12 ships 1.20230212; scripts/install-mail-dkim.sh
	// brings Debian 13's.
	mailDKIMVersion string
	mailDKIMEd25519 bool
)

// The Debian interpreters, named by path: a python3 from pyenv or a venv, or
// a ruby from rbenv, may come first on PATH without Debian's modules.
const (
	debianPython = "/usr/bin/python3"
	debianRuby   = "/usr/bin/ruby"
	debianPerl   = "/usr/bin/perl"
)

// mailDKIMFirstEd25519 is the first Mail::DKIM release with Ed25519.
const mailDKIMFirstEd25519 = "1.20230630"

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "dkimrelay-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		return 1
	}
	defer os.RemoveAll(tmp)

	relayBinary = filepath.Join(tmp, "dkimrelay")
	// The tests run inside integration/, so the module root is one up.
	build := exec.Command("go", "build", "-o", relayBinary, "./cmd/dkimrelay")
	build.Dir = ".."
	build.Stdout = os.Stderr
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "integration: building ./cmd/dkimrelay failed:", err)
		return 1
	}

	swaksPath, _ = exec.LookPath("swaks")
	// PyNaCl is dkimpy's Ed25519 (RFC 8463); dnspython its DNS client.
	pythonPath = ifRuns(debianPython, "-c", "import dkim, nacl, dns.resolver")
	smtplibPath = ifRuns(debianPython, "-c", "import smtplib, ssl, email.message")
	rubyPath = ifRuns(debianRuby, "-e", `require "mail"; require "net/smtp"; require "json"`)
	perlPath = ifRuns(debianPerl, "-MMail::DKIM::Verifier", "-MNet::DNS::Resolver", "-MJSON::PP", "-e", "1")
	if perlPath != "" {
		out, err := exec.Command(perlPath, "-MMail::DKIM", "-e", "print Mail::DKIM->VERSION").Output()
		if err == nil {
			mailDKIMVersion = strings.TrimSpace(string(out))
		}
		mailDKIMEd25519 = exec.Command(perlPath, "-MMail::DKIM", "-MCrypt::PK::Ed25519", "-e",
			"exit(Mail::DKIM->VERSION >= "+mailDKIMFirstEd25519+" ? 0 : 1)").Run() == nil
	}
	return m.Run()
}

// ifRuns returns path when the command path args exits 0 (the interpreter
// is there and has the modules the tests need), else "".
func ifRuns(path string, args ...string) string {
	if exec.Command(path, args...).Run() != nil {
		return ""
	}
	return path
}

// requireTool stops the test when an external tool is missing. Under CI it
// is a failure naming the Debian package to install; on a developer machine
// the test is skipped with the same message (the only skip these tests
// allow).
func requireTool(t testing.TB, path, what, debianPackages string) {
	t.Helper()
	if path != "" {
		return
	}
	requireCapability(t, false, fmt.Sprintf("%s not found: install the Debian package(s) %s", what, debianPackages))
}

// requireCapability is requireTool for a tool that is there but too old:
// unless ok, it fails under CI and skips elsewhere, with msg saying what to
// install.
func requireCapability(t testing.TB, ok bool, msg string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}
