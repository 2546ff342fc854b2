package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// relayBinary is the dkimrelay program built once by TestMain for every test.
var relayBinary string

// External tools the tests drive. An empty path means the tool is missing;
// see requireTool.
var (
	swaksPath  string // swaks, the submission client of TestSwaksSubmission
	pythonPath string // a python3 that can import dkim (dkimpy) and nacl
)

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
	pythonPath = findDkimpy()
	return m.Run()
}

// findDkimpy returns the first python3 that has dkimpy and PyNaCl (needed
// for Ed25519, RFC 8463); a python from pyenv or a venv often has neither,
// so the system one is tried too.
func findDkimpy() string {
	for _, py := range []string{"python3", "/usr/bin/python3"} {
		p, err := exec.LookPath(py)
		if err != nil {
			continue
		}
		if exec.Command(p, "-c", "import dkim, nacl").Run() == nil {
			return p
		}
	}
	return ""
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
	msg := fmt.Sprintf("%s not found: install the Debian package(s) %s", what, debianPackages)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}
