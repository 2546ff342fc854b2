package submission

import (
	"net/netip"
	"testing"
	"time"
)

func TestRefusalLog(t *testing.T) {
	r := newRefusalLog(3)
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	logged := 0
	for range 10 {
		if ok, _ := r.note(a, now); ok {
			logged++
		}
	}
	if logged != 3 {
		t.Errorf("10 refusals in a minute: %d logged, want 3", logged)
	}
	if ok, skipped := r.note(b, now); !ok || skipped != 0 {
		t.Errorf("another address: logged %v, skipped %d", ok, skipped)
	}
	ok, skipped := r.note(a, now.Add(61*time.Second))
	if !ok || skipped != 7 {
		t.Errorf("the next minute: logged %v with %d skipped, want true with 7", ok, skipped)
	}
}
