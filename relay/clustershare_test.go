package relay

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"dkimrelay/cluster"
	"dkimrelay/internal/smtpsink"
	"dkimrelay/internal/testkit"
	"dkimrelay/keys"
	"dkimrelay/users"
)

// sendAs submits one message as login, and returns the AUTH or
// transaction error.
func sendAs(addr, login, id string) error {
	c, err := testkit.OpenSubmission(addr, login, testkit.Password)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = testkit.Send(c, "app@"+hardDomain, []string{"someone@cluster.test"}, []byte(hardMessage(id, "someone@cluster.test")), nil)
	return err
}

// signature waits for the message with test ID id at the sink and
// returns its DKIM-Signature field.
func signature(t *testing.T, sink *smtpsink.Sink, id string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if ms := testkit.WithText(sink.Messages(), "Hello "+id+"."); len(ms) > 0 {
			return ms[0].Header("DKIM-Signature")
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("message %s never arrived", id)
	return ""
}

// eventually retries fn for up to 10 seconds and returns how long it
// took to succeed.
func eventually(t *testing.T, what string, fn func() error) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		err := fn()
		if err == nil {
			return time.Since(start)
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("%s: not within 10 s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestClusterSharesLoginsAndKeys: relay a's logins and keys imported into
// the database reach relay b; a login added and a key rotated through a
// command on a's machine are used by b within seconds, without a signal;
// a login removed on a is refused by b.
func TestClusterSharesLoginsAndKeys(t *testing.T) {
	rig := newClusterRig(t, 2)
	conn, sink, a, b := rig.conn, rig.sink, rig.relays[0], rig.relays[1]
	a.Start()
	b.Start()

	ctx := context.Background()
	db, err := cluster.Open(ctx, cluster.Options{ConnString: conn, Node: "cli"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	onA := cluster.NewMirror(db, a.Config.DataDir) // what the CLI does on a's machine
	if _, err := onA.Import(ctx); err != nil {
		t.Fatal(err)
	}
	// b signs with a's key once it has pulled the import.
	selA := a.Keys[hardDomain].Selector
	d := eventually(t, "b signs with a's key", func() error {
		id := fmt.Sprint("import-", time.Now().UnixNano())
		if err := sendAs(b.Addr(), "app", id); err != nil {
			return err
		}
		if sig := signature(t, sink, id); !strings.Contains(sig, "s="+selA+";") {
			return fmt.Errorf("signed %q", sig)
		}
		return nil
	})
	t.Logf("import seen by b after %v", d.Round(time.Millisecond))

	change := func(fn func() error) {
		t.Helper()
		if err := onA.Change(ctx, fn); err != nil {
			t.Fatal(err)
		}
	}
	change(func() error {
		return users.Update(a.Config.UsersFile(), func(db *users.DB) error {
			return db.Add("newapp", testkit.Password, []string{"@" + hardDomain})
		})
	})
	d = eventually(t, "b accepts the login added on a", func() error { return sendAs(b.Addr(), "newapp", "login") })
	t.Logf("login added on a used by b after %v", d.Round(time.Millisecond))

	var rotated *keys.Key
	change(func() error {
		st, err := keys.Open(a.Config.KeysDir())
		if err != nil {
			return err
		}
		now := time.Now()
		if rotated, err = st.Generate(hardDomain, keys.Ed25519, "", now); err != nil {
			return err
		}
		testkit.PublishKey(t, rig.dns, rotated)
		_, _, err = st.Activate(hardDomain, rotated.Selector, now)
		return err
	})
	d = eventually(t, "b signs with the key rotated on a", func() error {
		id := fmt.Sprint("rotated-", time.Now().UnixNano())
		if err := sendAs(b.Addr(), "app", id); err != nil {
			return err
		}
		if sig := signature(t, sink, id); !strings.Contains(sig, "s="+rotated.Selector+";") {
			return fmt.Errorf("signed %q", sig)
		}
		return nil
	})
	t.Logf("key rotated on a used by b after %v", d.Round(time.Millisecond))

	change(func() error {
		return users.Update(a.Config.UsersFile(), func(db *users.DB) error { return db.Remove("newapp") })
	})
	d = eventually(t, "b refuses the login removed on a", func() error {
		err := sendAs(b.Addr(), "newapp", "removed")
		var se *smtp.SMTPError
		if errors.As(err, &se) && se.Code == 535 {
			return nil
		}
		return fmt.Errorf("b answered %v", err)
	})
	t.Logf("login removed on a refused by b after %v", d.Round(time.Millisecond))
}
