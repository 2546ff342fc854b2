package metrics

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// Tee returns a slog.Handler that counts each event the relay logs and
// passes it on to next. It counts every event of level Info and above
// whatever next's level, so a quiet log (log.level = "warn") still gives
// full metrics.
func (m *Metrics) Tee(next slog.Handler) slog.Handler {
	return &tee{m: m, next: next}
}

type tee struct {
	m     *Metrics
	next  slog.Handler
	attrs []slog.Attr // from WithAttrs, e.g. log.With("qid", id)
	group bool        // attributes are nested in a group: not ours to read
}

func (t *tee) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelInfo || t.next.Enabled(ctx, l)
}

func (t *tee) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelInfo && !t.group {
		t.m.observe(r, t.attrs)
	}
	if !t.next.Enabled(ctx, r.Level) {
		return nil
	}
	return t.next.Handle(ctx, r)
}

func (t *tee) WithAttrs(as []slog.Attr) slog.Handler {
	c := *t
	if !t.group {
		c.attrs = append(append([]slog.Attr(nil), t.attrs...), as...)
	}
	c.next = t.next.WithAttrs(as)
	return &c
}

func (t *tee) WithGroup(name string) slog.Handler {
	c := *t
	c.group = c.group || name != ""
	c.next = t.next.WithGroup(name)
	return &c
}

// event is the fields of a log record the metrics read.
type event struct {
	qid, kind, reason, result, mechanism, tls, next string
	code                                            int64
	delay, sign                                     time.Duration
	hasDelay, hasSign, hasResult                    bool
}

func (e *event) set(a slog.Attr) {
	v := a.Value.Resolve()
	switch a.Key {
	case "qid":
		e.qid = v.String()
	case "kind":
		e.kind = v.String()
	case "reason":
		e.reason = v.String()
	case "result":
		e.result, e.hasResult = v.String(), true
	case "mechanism":
		e.mechanism = v.String()
	case "tls":
		e.tls = v.String()
	case "next_attempt":
		e.next = v.String()
	case "code":
		switch v.Kind() {
		case slog.KindInt64:
			e.code = v.Int64()
		case slog.KindUint64:
			e.code = int64(v.Uint64())
		default:
			e.code, _ = strconv.ParseInt(v.String(), 10, 64)
		}
	case "delay":
		e.delay, e.hasDelay = duration(v)
	case "sign_time":
		e.sign, e.hasSign = duration(v)
	}
}

// duration reads a duration logged as a time.Duration or as its string
// ("1.5s", the form the event log uses).
func duration(v slog.Value) (time.Duration, bool) {
	if v.Kind() == slog.KindDuration {
		return v.Duration(), true
	}
	d, err := time.ParseDuration(v.String())
	return d, err == nil
}

// observe counts one event. The event names and fields are those of the
// contract's event log.
func (m *Metrics) observe(r slog.Record, pre []slog.Attr) {
	switch r.Message {
	case "connect", "accepted", "rejected", "auth", "delivered", "deferred", "bounced", "expired", "spf", "deleted":
	default:
		return
	}
	var e event
	for _, a := range pre {
		e.set(a)
	}
	r.Attrs(func(a slog.Attr) bool { e.set(a); return true })

	switch r.Message {
	case "connect":
		m.connections.Inc()
	case "accepted":
		kind := e.kind
		if kind == "" {
			kind = "submission"
		}
		m.accepted.WithLabelValues(kind).Inc()
		if e.hasSign {
			m.signing.Observe(e.sign.Seconds())
		}
	case "rejected":
		m.rejected.WithLabelValues(RejectClass(e.code, e.reason)).Inc()
	case "auth":
		result := e.result
		if result != "ok" {
			result = "failed"
			m.authFailures.WithLabelValues(e.mechanism).Inc()
		}
		m.authAttempts.WithLabelValues(e.mechanism, result).Inc()
	case "delivered":
		m.recipients.WithLabelValues("delivered").Inc()
		tls := e.tls
		if tls == "" {
			tls = "none"
		}
		m.tlsVersions.WithLabelValues(tls).Inc()
		if e.hasDelay {
			m.deliveryDelay.Observe(e.delay.Seconds())
		}
		if m.countOnce("delivered|" + e.qid) {
			m.msgDelivered.Inc()
		}
	case "deferred":
		m.recipients.WithLabelValues("deferred").Inc()
		// The recipients deferred in one attempt share its next_attempt.
		if m.countOnce("deferred|" + e.qid + "|" + e.next) {
			m.msgDeferred.Inc()
		}
	case "bounced", "expired":
		m.recipients.WithLabelValues(r.Message).Inc()
		if m.countOnce("failed|" + e.qid) {
			m.msgBounced.Inc()
		}
	case "spf":
		if e.hasResult {
			m.spfResults.WithLabelValues(strings.ToLower(e.result)).Inc()
		}
	case "deleted":
		m.deleted.Inc()
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
