package authcheck

import (
	"net"
	"strings"
	"testing"

	"blitiri.com.ar/go/spf"
)

// TestSPFVerdict: under spf_policy = "reject", what a receiver would reject
// is refused, a lookup that may succeed later is refused for now, and none
// or neutral pass (RFC 7208 sections 8.1 and 8.2).
func TestSPFVerdict(t *testing.T) {
	ip := net.ParseIP("192.0.2.10")
	for _, tc := range []struct {
		result spf.Result
		err    error
		want   Action
		reason string
	}{
		{spf.Pass, spf.ErrMatchedIP, Pass, ""},
		{spf.None, spf.ErrNoResult, Pass, ""},
		{spf.Neutral, nil, Pass, ""},
		{spf.Fail, spf.ErrMatchedAll, Reject, `SPF fail: 192.0.2.10 is not authorized to send for example.org; add "ip4:192.0.2.10" to the SPF record of example.org`},
		{spf.SoftFail, spf.ErrMatchedAll, Reject, "SPF softfail: 192.0.2.10 is not authorized"},
		{spf.TempError, nil, TempFail, "SPF check of example.org failed temporarily"},
		{spf.PermError, spf.ErrLookupLimitReached, Reject, "SPF permerror for example.org: evaluating the record takes more than 10 DNS lookups"},
	} {
		v := spfVerdict(SPFResult{Domain: "example.org", IP: ip, Result: tc.result, Err: tc.err})
		if v.Action != tc.want || !strings.HasPrefix(v.Reason, tc.reason) || (tc.want == Pass) != v.Passed() {
			t.Errorf("%s: verdict %+v, want action %d with reason %q", tc.result, v, tc.want, tc.reason)
		}
	}
}
