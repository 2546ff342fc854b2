package events

import (
	"log/slog"
	"time"
)

// FromRecord returns the typed event a log record carries, for readers of
// the records themselves (the metrics). pre holds the attributes the
// logger added before the record's own (log.With). It reports false for a
// record that is not one of the typed events.
func FromRecord(r slog.Record, pre []slog.Attr) (Event, bool) {
	switch r.Message {
	case Connect, Auth, Rejected, Accepted, Delivered, Deferred, Bounced, Expired, Deleted, SPF, DMARC, Duplicated, Suppressed, BlockedByReceiver, ProviderPaused:
	default:
		return nil, false
	}
	var f fields
	for _, a := range pre {
		f.set(a)
	}
	r.Attrs(func(a slog.Attr) bool { f.set(a); return true })

	switch r.Message {
	case Connect:
		return Connection{Remote: f.remote, Local: f.local}, true
	case Auth:
		return AuthAttempt{User: f.user, Mechanism: f.mechanism, OK: f.result == "ok", Remote: f.remote, Helo: f.helo, Cached: f.cached}, true
	case Rejected:
		return Rejection{Level: r.Level, Code: f.code, Reason: f.reason, Remote: f.remote, From: f.from, Rcpt: f.rcpt, Until: f.until, User: f.user, Repeated: int(f.repeated)}, true
	case Accepted:
		return Acceptance{QID: f.qid, User: f.user, From: f.from, Rcpts: f.rcpts, Size: f.size, DKIM: f.dkim,
			SignTime: f.signTime, Remote: f.remote, Kind: f.kind, OrigQID: f.origQID, Class: f.class}, true
	case Delivered:
		return Delivery{QID: f.qid, Rcpt: f.rcpt, MX: f.mx, TLS: f.tls, TLSPolicy: f.tlsPolicy, Code: f.code, Delay: f.delay, Reply: f.reply}, true
	case Deferred:
		return Deferral{QID: f.qid, Rcpt: f.rcpt, MX: f.mx, Code: f.code, Reason: f.reason, NextAttempt: f.nextAttempt, TLSPolicy: f.tlsPolicy}, true
	case Bounced:
		return Bounce{QID: f.qid, Rcpt: f.rcpt, MX: f.mx, Code: f.code, Reason: f.reason, TLSPolicy: f.tlsPolicy}, true
	case Expired:
		return Expiry{QID: f.qid, Rcpt: f.rcpt, Reason: f.reason, Delay: f.delay}, true
	case Deleted:
		return Deletion{QID: f.qid, From: f.from, Rcpts: f.rcpts, Reason: f.reason}, true
	case DMARC:
		return DMARCCheck{Domain: f.domain, MailFromDomain: f.mailFromDomain, DKIMDomains: f.dkimDomains,
			DKIMAligned: f.dkimAligned, SPFAligned: f.spfAligned, Policy: f.policy, Record: f.record, P: f.p,
			Result: f.result, Detail: f.detail}, true
	case Duplicated:
		return Duplicate{QID: f.qid, User: f.user, Remote: f.remote}, true
	case Suppressed:
		return Suppression{QID: f.qid, Rcpt: f.rcpt, Reason: f.reason, Until: f.until}, true
	case ProviderPaused:
		return ProviderPause{Provider: f.provider, MX: f.mx, Until: f.until, Reply: f.reply}, true
	case BlockedByReceiver:
		return Blocked{QID: f.qid, Rcpt: f.rcpt, MX: f.mx, Code: f.code, Reply: f.reply}, true
	default: // SPF
		return SPFCheck{Domain: f.domain, IP: f.ip, Result: f.result, Detail: f.detail, Cached: f.cached, Policy: f.policy}, true
	}
}

// fields is the union of the typed events' fields, as a record's
// attributes set them.
type fields struct {
	qid, user, mechanism, result, reason, from, rcpt, kind, origQID, class, provider string
	mx, tls, reply, remote, local, helo, domain, ip, detail, policy                  string
	tlsPolicy, mailFromDomain, record, p                                             string

	code        int
	size        int64
	repeated    int64
	rcpts, dkim []string
	dkimDomains []string
	cached      bool
	dkimAligned bool
	spfAligned  bool
	delay       time.Duration
	signTime    time.Duration
	nextAttempt time.Time
	until       time.Time
}

func (f *fields) set(a slog.Attr) {
	switch x := a.Value.Any().(type) {
	case Duration:
		switch a.Key {
		case DelayKey:
			f.delay = time.Duration(x)
		case SignTimeKey:
			f.signTime = time.Duration(x)
		}
		return
	case Time:
		switch a.Key {
		case NextAttemptKey:
			f.nextAttempt = time.Time(x)
		case UntilKey:
			f.until = time.Time(x)
		}
		return
	}
	v := a.Value.Resolve()
	switch a.Key {
	case CodeKey:
		f.code = int(integer(v))
	case SizeKey:
		f.size = integer(v)
	case RepeatedKey:
		f.repeated = integer(v)
	case RcptsKey:
		f.rcpts, _ = v.Any().([]string)
	case DKIMKey:
		f.dkim, _ = v.Any().([]string)
	case DKIMDomainsKey:
		f.dkimDomains, _ = v.Any().([]string)
	case CachedKey:
		f.cached = v.Kind() == slog.KindBool && v.Bool()
	case DKIMAlignedKey:
		f.dkimAligned = v.Kind() == slog.KindBool && v.Bool()
	case SPFAlignedKey:
		f.spfAligned = v.Kind() == slog.KindBool && v.Bool()
	}
	if v.Kind() != slog.KindString {
		return
	}
	s := v.String()
	switch a.Key {
	case QIDKey:
		f.qid = s
	case UserKey:
		f.user = s
	case MechanismKey:
		f.mechanism = s
	case ResultKey:
		f.result = s
	case ReasonKey:
		f.reason = s
	case FromKey:
		f.from = s
	case RcptKey:
		f.rcpt = s
	case KindKey:
		f.kind = s
	case ClassKey:
		f.class = s
	case ProviderKey:
		f.provider = s
	case OrigQIDKey:
		f.origQID = s
	case MXKey:
		f.mx = s
	case TLSKey:
		f.tls = s
	case TLSPolicyKey:
		f.tlsPolicy = s
	case ReplyKey:
		f.reply = s
	case MailFromDomainKey:
		f.mailFromDomain = s
	case RecordKey:
		f.record = s
	case DMARCPolicyKey:
		f.p = s
	case RemoteKey:
		f.remote = s
	case LocalKey:
		f.local = s
	case HeloKey:
		f.helo = s
	case DomainKey:
		f.domain = s
	case IPKey:
		f.ip = s
	case DetailKey:
		f.detail = s
	case PolicyKey:
		f.policy = s
	}
}

func integer(v slog.Value) int64 {
	switch v.Kind() {
	case slog.KindInt64:
		return v.Int64()
	case slog.KindUint64:
		return int64(v.Uint64())
	}
	return 0
}
