package queue

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// crashChildEnv, when set, makes TestKillDuringCommits the child process:
// it commits messages into the queue folder named by the variable until
// it is killed.
const crashChildEnv = "DKIMRELAY_QUEUE_CRASH_CHILD"

// crashSparesEnv, in the child, is its Options.Spares: the rounds alternate
// between drafts creating their files and drafts taking spares.
const crashSparesEnv = "DKIMRELAY_QUEUE_CRASH_SPARES"

// crashMessage is the content of message number n: sizes vary from a few
// bytes to several times the draft buffer, so kills land in every phase.
func crashMessage(n int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: app@example.org\r\nSubject: message %d\r\n\r\n", n)
	line := fmt.Sprintf("%d the quick brown fox jumps over the lazy dog\r\n", n)
	for range (n * 7919) % 9000 {
		b.WriteString(line)
	}
	return b.Bytes()
}

func crashSignature(n int) string {
	return fmt.Sprintf("DKIM-Signature: v=1; d=example.org; s=s%d;\r\n b=%d=\r\n", n, n)
}

func runCrashChild(dir string) {
	spares, _ := strconv.Atoi(os.Getenv(crashSparesEnv))
	q, err := Open(Options{Dir: dir, Delivery: defaultDelivery, Spares: spares})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(3)
	}
	var counter atomic.Int64
	counter.Store(time.Now().UnixNano() % 1_000_000 * 1000) // distinct across children
	for range 4 {
		go func() {
			for {
				n := int(counter.Add(1))
				d, err := q.NewDraft()
				if err != nil {
					fmt.Fprintln(os.Stderr, "child:", err)
					os.Exit(3)
				}
				d.Write(crashMessage(n))
				if err := d.Commit(Envelope{From: "app@example.org", Rcpts: []string{"b@example.net"}, Signatures: []string{crashSignature(n)}}); err != nil {
					fmt.Fprintln(os.Stderr, "child:", err)
					os.Exit(3)
				}
				// Acknowledged: one write(2), atomic on a pipe.
				os.Stdout.WriteString("QID " + d.ID() + " " + strconv.Itoa(n) + "\n")
			}
		}()
	}
	select {}
}

// TestKillDuringCommits runs a child process that commits messages from
// several goroutines and prints each QID once Commit returned, SIGKILLs it
// at a random moment, and checks that every printed message is in the
// queue, intact.
func TestKillDuringCommits(t *testing.T) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		runCrashChild(dir)
		return
	}
	dir := queueDir(t)
	acked := map[string]int{}
	for round := range 4 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKillDuringCommits$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir, crashSparesEnv+"="+strconv.Itoa(round%2*DefaultSpares))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		// Let it commit a few, then kill it at a random moment.
		got := 0
		timeout := time.After(20 * time.Second)
		for got < 5 {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("child ended early: %s", stderr.String())
				}
				got += noteAcked(t, acked, l)
			case <-timeout:
				t.Fatalf("child committed nothing in time: %s", stderr.String())
			}
		}
		kill := time.After(time.Duration(rand.IntN(150)) * time.Millisecond)
	drain:
		for {
			select {
			case l := <-lines:
				noteAcked(t, acked, l)
			case <-kill:
				break drain
			}
		}
		cmd.Process.Kill() // SIGKILL
		for l := range lines {
			noteAcked(t, acked, l)
		}
		cmd.Wait()

		q, err := Open(Options{Dir: dir, Delivery: defaultDelivery})
		if err != nil {
			t.Fatal(err)
		}
		for id, n := range acked {
			m, err := q.Get(id)
			if err != nil {
				t.Fatalf("round %d: acknowledged message %s (%d) lost: %v", round, id, n, err)
			}
			rc, err := q.Open(m)
			want := append([]byte(crashSignature(n)), crashMessage(n)...)
			if raw := readAll(t, rc, err); !bytes.Equal(raw, want) {
				t.Fatalf("round %d: message %s (%d) has %d bytes, want %d", round, id, n, len(raw), len(want))
			}
		}
		msgs := 0
		for _, f := range files(t, dir) {
			if !strings.HasSuffix(f, ".msg") {
				t.Errorf("round %d: junk left after recovery: %s", round, f)
			}
			msgs++
		}
		// Unfinished drafts and the spares the child kept ready are gone.
		if msgs != q.Len() {
			t.Errorf("round %d: %d message files after recovery, %d messages queued", round, msgs, q.Len())
		}
		if exists(filepath.Join(dir, damagedDir)) {
			t.Errorf("round %d: a crash produced damaged messages", round)
		}
		t.Logf("round %d: %d acknowledged, %d in the queue", round, len(acked), q.Len())
		if q.Len() < len(acked) {
			t.Errorf("round %d: %d in the queue, fewer than %d acknowledged", round, q.Len(), len(acked))
		}
		q.Close()
	}
}

// noteAcked notes an acknowledged message from a child's output line.
func noteAcked(t *testing.T, acked map[string]int, line string) int {
	f := strings.Fields(line)
	if len(f) != 3 || f[0] != "QID" {
		return 0 // the test framework's own output
	}
	n, err := strconv.Atoi(f[2])
	if err != nil {
		t.Fatalf("bad child line %q", line)
	}
	acked[f[1]] = n
	return 1
}
