package metrics

import (
	"log/slog"
	"strconv"
	"strings"
	"time"

	"dkimrelay/events"
)

// Tee returns a slog.Handler that counts each event the relay logs and
// passes it on to next. It counts every event of level Info and above
// whatever next's level, so a quiet log (log.level = "warn") still gives
// full metrics.
func (m *Metrics) Tee(next slog.Handler) slog.Handler {
	return events.TeeEvents(next, m.observe)
}

// observe counts one event: the typed events the relay logs (package
// events), read back from the record with their values as logged.
func (m *Metrics) observe(_ time.Time, ev events.Event) {
	switch e := ev.(type) {
	case events.Connection:
		m.connections.Inc()
	case events.Acceptance:
		kind := e.Kind
		if kind == "" {
			kind = "submission"
		}
		m.accepted.WithLabelValues(kind).Inc()
		if e.Class != "" {
			m.byClass.WithLabelValues(e.Class).Inc()
		}
		if e.SignTime > 0 {
			m.signing.Observe(e.SignTime.Seconds())
		}
	case events.Rejection:
		// A line counting repeated refusals stands for that many more.
		m.rejected.WithLabelValues(RejectClass(int64(e.Code), e.Reason)).Add(float64(1 + e.Repeated))
	case events.AuthAttempt:
		result := "ok"
		if !e.OK {
			result = "failed"
			m.authFailures.WithLabelValues(e.Mechanism).Inc()
		}
		m.authAttempts.WithLabelValues(e.Mechanism, result).Inc()
	case events.Delivery:
		m.recipients.WithLabelValues(events.Delivered).Inc()
		tls := e.TLS
		if tls == "" {
			tls = "none"
		}
		m.tlsVersions.WithLabelValues(tls).Inc()
		p := providerLabel(e.MX)
		m.toProvider.WithLabelValues(p).Inc()
		m.today.add(p)
		policy := e.TLSPolicy
		if policy == "" {
			policy = "none"
		}
		m.tlsPolicies.WithLabelValues(policy).Inc()
		m.deliveryDelay.Observe(e.Delay.Seconds())
		if m.countOnce("delivered|" + e.QID) {
			m.msgDelivered.Inc()
		}
	case events.Deferral:
		m.recipients.WithLabelValues(events.Deferred).Inc()
		m.deferredAt.WithLabelValues(providerLabel(e.MX)).Inc()
		m.countTLSFailure(e.TLSPolicy, e.Reason)
		// The recipients deferred in one attempt share its next_attempt.
		if m.countOnce("deferred|" + e.QID + "|" + strconv.FormatInt(e.NextAttempt.Unix(), 10)) {
			m.msgDeferred.Inc()
		}
	case events.Bounce:
		m.recipients.WithLabelValues(events.Bounced).Inc()
		m.bouncedAt.WithLabelValues(providerLabel(e.MX)).Inc()
		m.countTLSFailure(e.TLSPolicy, e.Reason)
		m.countFailed(e.QID)
	case events.Expiry:
		m.recipients.WithLabelValues(events.Expired).Inc()
		m.countFailed(e.QID)
	case events.DMARCCheck:
		// Logged at Warn unless aligned, so only the problems reach here.
		if e.Result != "aligned" {
			m.dmarcProblems.WithLabelValues(e.Result).Inc()
		}
	case events.SPFCheck:
		if e.Result != "" {
			m.spfResults.WithLabelValues(strings.ToLower(e.Result)).Inc()
		}
	case events.Deletion:
		m.deleted.Inc()
	case events.Duplicate:
		m.duplicates.WithLabelValues(e.User).Inc()
	case events.Suppression:
		m.suppressed.Inc()
	case events.ProviderPause:
		m.pauses.WithLabelValues(e.Provider).Inc()
	case events.Blocked:
		m.blocked.WithLabelValues(strings.ToLower(e.MX)).Inc()
	}
}

// countTLSFailure counts a failure a TLS policy caused: a deferral or
// bounce that names a policy and a TLS reason. Other failures under a
// policy (a 4xx, a refused connection) are not the policy's doing.
func (m *Metrics) countTLSFailure(policy, reason string) {
	if policy == "" {
		return
	}
	if kind := TLSFailure(reason); kind != "" {
		m.tlsFailures.WithLabelValues(policy, kind).Inc()
	}
}

// TLSFailure classifies the reason of a delivery a TLS policy refused, as
// delivery words it (see docs/tls.md); "" when the reason is not a TLS
// failure.
func TLSFailure(reason string) string {
	switch {
	case strings.Contains(reason, "does not offer STARTTLS"), strings.Contains(reason, "refused STARTTLS"):
		return "starttls"
	case strings.Contains(reason, "certificate name mismatch"):
		return "certificate_name"
	case strings.Contains(reason, "certificate expired"):
		return "certificate_expired"
	case strings.Contains(reason, "unknown authority"), strings.Contains(reason, "certificate not trusted"):
		return "certificate_untrusted"
	case strings.Contains(reason, "TLSA mismatch"), strings.Contains(reason, "no usable TLSA"):
		return "tlsa_mismatch"
	case strings.Contains(reason, "is not one the MTA-STS policy"):
		return "mx_not_in_policy"
	case strings.Contains(reason, "TLS handshake with"):
		return "handshake"
	}
	return ""
}

// countFailed counts a message that failed for good, once whatever the
// number of its recipients that bounced or expired.
func (m *Metrics) countFailed(qid string) {
	if m.countOnce("failed|" + qid) {
		m.msgBounced.Inc()
	}
}

// countOnce reports whether key is new among the recent keys. Delivery
// events are per recipient; counting a message once needs to remember
// which messages were counted, for as long as their events can come.
func (m *Metrics) countOnce(key string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.seen.add(key)
}

// recentMessages bounds the memory of counted messages. A message whose
// recipients are delivered further apart than this many other messages
// may be counted twice; the recipient counters are always exact.
const recentMessages = 20000

// recentSet is a set that forgets its oldest members beyond a size.
type recentSet struct {
	set  map[string]struct{}
	ring []string
	next int
}

func newRecentSet(n int) *recentSet {
	return &recentSet{set: make(map[string]struct{}, n), ring: make([]string, n)}
}

// add inserts key and reports whether it was absent.
func (s *recentSet) add(key string) bool {
	if _, ok := s.set[key]; ok {
		return false
	}
	if old := s.ring[s.next]; old != "" {
		delete(s.set, old)
	}
	s.ring[s.next] = key
	s.next = (s.next + 1) % len(s.ring)
	s.set[key] = struct{}{}
	return true
}

// RejectClass sorts a rejection into a small, fixed set of reasons, so the
// label stays bounded whatever the reply text says.
func RejectClass(code int64, reason string) string {
	r := strings.ToLower(reason)
	switch {
	case code == 421:
		return "connections"
	case code == 530:
		return "auth_required"
	case strings.HasPrefix(r, "spf"):
		return "spf"
	case strings.Contains(r, "no active dkim key"):
		return "no_key"
	case strings.Contains(r, "is not allowed for login"), strings.Contains(r, "null sender"):
		return "sender"
	case strings.Contains(r, "from header"):
		return "from_header"
	case code == 501:
		return "syntax"
	case code == 552:
		return "size"
	case code == 451 || code == 452:
		return "local_error"
	case code == 550 || code == 554:
		if strings.Contains(r, "malformed") || strings.Contains(r, "bare") || strings.Contains(r, "line") || strings.Contains(r, "nul") {
			return "malformed"
		}
	}
	return "other"
}
