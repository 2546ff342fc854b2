package relay

// Issue 3's live rotation: a running relay, keys rotated the way `keys
// rotate` does it (keys.Store.Rotate against DNS, then a reload over the
// control socket), and every message verifiable by a receiver throughout.

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	msgdkim "github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-smtp"
	"github.com/miekg/dns"

	"dkimrelay/control"
	"dkimrelay/internal/smtpsink"
	"dkimrelay/internal/testkit"
	"dkimrelay/keys"
	"dkimrelay/resolver"
	"dkimrelay/resolver/dnstest"
)

// verifyAt checks a delivered message's DKIM signatures against the test
// DNS, as a receiver would: every one must verify. It returns their
// selectors.
func verifyAt(t *testing.T, res *resolver.Resolver, data []byte) []string {
	t.Helper()
	vs, err := msgdkim.VerifyWithOptions(bytes.NewReader(data), &msgdkim.VerifyOptions{
		LookupTXT: func(name string) ([]string, error) { return res.LookupTXT(context.Background(), name) },
	})
	if err != nil {
		t.Fatalf("verifying: %v", err)
	}
	if len(vs) == 0 {
		t.Fatalf("no DKIM signature in %q", data)
	}
	for _, v := range vs {
		if v.Err != nil || v.Domain != hardDomain {
			t.Errorf("signature of %s does not verify: %v", v.Domain, v.Err)
		}
	}
	return selectors(t, data)
}

// verifiedWith checks that the message verifies with exactly one
// signature and returns its selector.
func verifiedWith(t *testing.T, res *resolver.Resolver, data []byte) string {
	t.Helper()
	sels := verifyAt(t, res, data)
	if len(sels) != 1 {
		t.Fatalf("signed with %v, want one key", sels)
	}
	return sels[0]
}

// selectors are the s= of the message's DKIM-Signature fields.
func selectors(t *testing.T, data []byte) []string {
	t.Helper()
	hdr, _, _ := strings.Cut(string(data), "\r\n\r\n")
	hdr = strings.ReplaceAll(hdr, "\r\n ", " ")
	var out []string
	for _, line := range strings.Split(hdr, "\r\n") {
		if !strings.HasPrefix(strings.ToLower(line), "dkim-signature:") {
			continue
		}
		for _, tag := range strings.Split(line[len("dkim-signature:"):], ";") {
			if k, v, ok := strings.Cut(strings.TrimSpace(tag), "="); ok && k == "s" {
				out = append(out, strings.TrimSpace(v))
			}
		}
	}
	return out
}

// TestLiveRotation follows a key rotation through a running relay: a
// message queued before the switch, the new key pending, then active, the
// old one retiring and finally pruned after keys.retire_after. Every
// message verifies when it is delivered, the late one included, because
// the old record stays in DNS through the grace period.
func TestLiveRotation(t *testing.T) {
	port, ls := testkit.ListenSame(t, "127.0.0.2")
	sink := serveSink(t, ls[0])
	// late@good.test waits until the test lets it through: a message
	// queued before the switch and delivered after it.
	held := make(chan struct{})
	sink.SetReply(func(p smtpsink.Phase, arg string) error {
		if p == smtpsink.Rcpt && arg == "late@good.test" {
			select {
			case <-held:
			default:
				return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 2, 0}, Message: "greylisted"}
			}
		}
		return nil
	})
	srv := dnstest.NewServer(t)
	srv.AddZone(hardZone)
	const grace = 8 * time.Second
	h := newHardRelay(t, srv, hardOptions{port: port,
		delivery: fmt.Sprintf("max_lifetime = %q", grace.String()),
		keys:     fmt.Sprintf("retire_after = %q", grace.String())})
	res := hardResolver(t, srv)
	st, err := keys.Open(h.Config.KeysDir())
	if err != nil {
		t.Fatal(err)
	}
	old := st.Active(hardDomain)
	if len(old) != 1 {
		t.Fatalf("active keys at the start: %v", old)
	}
	oldSel := old[0].Selector

	// `keys rotate` as cron runs it: one Rotate step, then the reload.
	ctx := context.Background()
	rotate := func(startNow bool) keys.Rotation {
		t.Helper()
		rs, err := st.Rotate(ctx, hardDomain, keys.RotateOptions{RotateAfter: h.Config.Keys.RotateAfter, StartNow: startNow, Lookup: res.LookupTXT}, time.Now())
		if err != nil || len(rs) != 1 {
			t.Fatalf("rotate: %v %v", rs, err)
		}
		if err := control.Call(ctx, h.Config.ControlSocket(), "reload", nil, nil); err != nil {
			t.Fatalf("reload over the control socket: %v", err)
		}
		return rs[0]
	}
	send := func(id, to string) string {
		t.Helper()
		return mustSend(t, h.Addr(), []string{to}, hardMessage(id, to))
	}
	// delivered sends a message and returns it as the MX received it.
	delivered := func(id, to string) []byte {
		t.Helper()
		send(id, to)
		return testkit.AwaitMessage(t, 10*time.Second, "Hello "+id+".", sink).Data
	}

	// Queued before the switch, signed with the old key, deferred.
	lateQID := send("late", "late@good.test")
	h.WaitEvent("deferred", 10*time.Second, func(ev map[string]any) bool { return ev["qid"] == lateQID })

	// Step 1: a new pending key; the old one keeps signing.
	r1 := rotate(true)
	if r1.Step != keys.StepGenerated || r1.Key.State != keys.Pending {
		t.Fatalf("first step: %s %v", r1.Step, r1.Key)
	}
	newSel := r1.Key.Selector
	if sel := verifiedWith(t, res, delivered("before", "a@good.test")); sel != oldSel {
		t.Errorf("with the new key pending, signed with %s, want %s", sel, oldSel)
	}

	// Step 2, before the record is published: nothing changes.
	if r2 := rotate(false); r2.Step != keys.StepWaiting || r2.Check.State != keys.Missing {
		t.Fatalf("second step without the record: %s %s", r2.Step, r2.Check.State)
	}

	// Step 3, once DNS serves the record: activated; the old key retires.
	testkit.PublishKey(t, srv, r1.Key)
	r3 := rotate(false)
	if r3.Step != keys.StepActivated || len(r3.Retired) != 1 || r3.Retired[0].Selector != oldSel {
		t.Fatalf("third step: %s, retired %v", r3.Step, r3.Retired)
	}
	if sel := verifiedWith(t, res, delivered("after", "b@good.test")); sel != newSel {
		t.Errorf("after the activation, signed with %s, want the new %s", sel, newSel)
	}
	if ev := h.Logs.Events("accepted"); fmt.Sprint(ev[len(ev)-1]["dkim"]) != fmt.Sprint([]any{newSel}) {
		t.Errorf("accepted event names selectors %v, want [%s]", ev[len(ev)-1]["dkim"], newSel)
	}

	// The message queued before the switch is delivered now, with the
	// old signature, which still verifies: its record is still published.
	close(held)
	if sel := verifiedWith(t, res, testkit.AwaitMessage(t, 10*time.Second, "Hello late.", sink).Data); sel != oldSel {
		t.Errorf("the late message is signed with %s, want the old %s", sel, oldSel)
	}

	// Prune removes the old key only after the grace period.
	if pruned, err := st.Prune(hardDomain, grace, time.Now()); err != nil || len(pruned) != 0 {
		t.Fatalf("prune within the grace period: %v %v", pruned, err)
	}
	removable := r3.Retired[0].RemovableAfter(grace)
	time.Sleep(time.Until(removable) + 100*time.Millisecond)
	pruned, err := st.Prune(hardDomain, grace, time.Now())
	if err != nil || len(pruned) != 1 || pruned[0].Selector != oldSel {
		t.Fatalf("prune after the grace period: %v %v", pruned, err)
	}
	if _, err := st.Get(hardDomain, oldSel); err == nil {
		t.Error("the pruned key is still in the store")
	}
	// The administrator deletes the record `keys prune` listed.
	srv.SetRcode(oldSel+"._domainkey."+hardDomain, dns.RcodeNameError)
	if err := control.Call(ctx, h.Config.ControlSocket(), "reload", nil, nil); err != nil {
		t.Fatal(err)
	}
	if sel := verifiedWith(t, res, delivered("pruned", "c@good.test")); sel != newSel {
		t.Errorf("after the prune, signed with %s, want %s", sel, newSel)
	}
	if b := h.Logs.Events("bounced"); len(b) > 0 {
		t.Errorf("bounces during the rotation: %v", b)
	}
}
