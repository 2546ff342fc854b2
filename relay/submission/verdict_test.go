package submission

import (
	"testing"

	"dkimrelay/authcheck"
)

// TestVerdictReply: a check that could not be completed is a 451 4.4.3 (the
// application retries); one the receiver would reject is a 550 5.7.1.
func TestVerdictReply(t *testing.T) {
	for _, tc := range []struct {
		v    authcheck.Verdict
		want string
	}{
		{authcheck.Verdict{Action: authcheck.TempFail, Reason: "SPF check of example.org failed temporarily"}, "451 4.4.3 SPF check of example.org failed temporarily"},
		{authcheck.Verdict{Action: authcheck.Reject, Reason: "DMARC: a\nDMARC: b"}, "550 5.7.1 DMARC: a\nDMARC: b"},
	} {
		r := verdictReply(tc.v)
		got := sprintf("%d %d.%d.%d %s", r.Code, r.EnhancedCode[0], r.EnhancedCode[1], r.EnhancedCode[2], r.Message)
		if got != tc.want {
			t.Errorf("verdictReply(%+v) = %q, want %q", tc.v, got, tc.want)
		}
	}
}
