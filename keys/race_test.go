package keys

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// churn generates and activates n keys, alternating RSA and Ed25519 with
// derived selectors, so that concurrent callers collide on both selector
// derivation and activation. It returns how many keys its activations
// retired.
func churn(s *Store, n, offset int) (retired int, err error) {
	for i := range n {
		alg := Ed25519
		if (i+offset)%2 == 0 {
			alg = RSA2048
		}
		k, err := s.Generate(testDomain, alg, "", t0)
		if err != nil {
			return retired, err
		}
		_, r, err := s.Activate(testDomain, k.Selector, t0)
		if err != nil {
			return retired, err
		}
		retired += len(r)
	}
	return retired, nil
}

// checkConsistent verifies the store after concurrent churn of total keys:
// every key loads, each was retired exactly once except the one active key
// of each type.
func checkConsistent(t *testing.T, dir string, total, retired int) {
	t.Helper()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	keys, errs := s.List()
	if len(errs) != 0 {
		t.Fatalf("List errors: %v", errs)
	}
	if len(keys) != total {
		t.Errorf("%d keys, want %d: %v", len(keys), total, selectorsOf(keys))
	}
	active := map[string]int{}
	for _, k := range keys {
		switch k.State {
		case Active:
			active[k.Algorithm.KeyType()]++
		case Retiring:
		default:
			t.Errorf("key %s is %s", k.Selector, k.State)
		}
	}
	if active["rsa"] != 1 || active["ed25519"] != 1 {
		t.Errorf("active keys per type = %v, want one of each", active)
	}
	if retired != total-2 {
		t.Errorf("activations retired %d keys, want %d", retired, total-2)
	}
	entries, _ := os.ReadDir(dir + "/" + testDomain)
	for _, e := range entries {
		if isTemp(e.Name()) {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

func TestConcurrentGoroutines(t *testing.T) {
	dir := openTest(t).Dir()
	const workers, each = 4, 5
	var wg sync.WaitGroup
	var mu sync.Mutex
	retired := 0
	for w := range workers {
		// Half the workers share a Store value, half have their own.
		wg.Go(func() {
			s, err := Open(dir)
			if err != nil {
				t.Error(err)
				return
			}
			s.newSigner = fastSigner
			r, err := churn(s, each, w)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			retired += r
			mu.Unlock()
		})
	}
	wg.Wait()
	checkConsistent(t, dir, workers*each, retired)
}

const helperEnv = "DKIMRELAY_KEYS_TEST_STORE"

// TestHelperProcess is the child of TestConcurrentProcesses; run directly
// it does nothing.
func TestHelperProcess(t *testing.T) {
	dir := os.Getenv(helperEnv)
	if dir == "" {
		return
	}
	offset, _ := strconv.Atoi(os.Getenv(helperEnv + "_OFFSET"))
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	s.newSigner = fastSigner
	r, err := churn(s, 6, offset)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("retired=%d\n", r)
}

func TestConcurrentProcesses(t *testing.T) {
	dir := openTest(t).Dir()
	const procs = 2
	var cmds []*exec.Cmd
	var outs []*strings.Builder
	for i := range procs {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), helperEnv+"="+dir, helperEnv+"_OFFSET="+strconv.Itoa(i))
		out := new(strings.Builder)
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
		outs = append(outs, out)
	}
	retired := 0
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("child %d: %v\n%s", i, err, outs[i])
		}
		var r int
		for _, line := range strings.Split(outs[i].String(), "\n") {
			if v, ok := strings.CutPrefix(line, "retired="); ok {
				r, _ = strconv.Atoi(v)
				retired += r
			}
		}
	}
	checkConsistent(t, dir, procs*6, retired)
}
