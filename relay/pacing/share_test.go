package pacing

import "testing"

// TestSetShare: with two relays in the cluster each keeps to half of a
// provider's connections, a limit never falls to nothing, and with one
// relay left the whole limit is back.
func TestSetShare(t *testing.T) {
	p, _, _ := newTestPacer(t, Limits{Connections: 4, Rate: 1})
	admitted := func() int {
		var tickets []*Ticket
		for i := range 10 {
			tk, _, _ := p.Admit(string(rune('a'+i)), "google", true, false)
			if tk == nil {
				break
			}
			tickets = append(tickets, tk)
		}
		for _, tk := range tickets {
			tk.Done(nil)
		}
		return len(tickets)
	}
	p.SetShare(2)
	if p.limits.Connections != 2 || p.limits.Rate != 1 {
		t.Fatalf("share of 2: %+v, want 2 connections and the rate kept at 1", p.limits)
	}
	if n := admitted(); n != 2 {
		t.Errorf("half of 4 connections admitted %d at once", n)
	}
	p.SetShare(8)
	if p.limits.Connections != 1 {
		t.Errorf("share of 8: %d connections, want 1", p.limits.Connections)
	}
	p.SetShare(1)
	if p.limits.Connections != 4 {
		t.Errorf("back to one relay: %d connections, want 4", p.limits.Connections)
	}
}
