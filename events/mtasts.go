package events

import (
	"log/slog"
	"time"
)

// The events of the MTA-STS policy cache (RFC 8461, docs/tls.md).
const (
	MTASTSFetched     = "mta_sts_policy_fetched"      // a domain's policy fetched and cached
	MTASTSFetchFailed = "mta_sts_policy_fetch_failed" // a policy fetch failed; a cached policy, if any, stays in force
	MTASTSExpired     = "mta_sts_policy_expired"      // a cached policy past its max_age, dropped
	MTASTSUnsaved     = "mta_sts_policy_unsaved"      // a fetched policy could not be written: it applies until the relay restarts
	MTASTSCacheDamage = "mta_sts_cache_damaged"       // a cached policy file that cannot be read, ignored

	PolicyIDKey = "id"      // the policy's id from the _mta-sts TXT record
	MaxAgeKey   = "max_age" // the policy's max_age
)

// MTASTSPolicyFetched is the event "mta_sts_policy_fetched".
type MTASTSPolicyFetched struct {
	Domain string
	ID     string
	Mode   string
	MaxAge time.Duration
}

// Name implements Event.
func (MTASTSPolicyFetched) Name() string { return MTASTSFetched }

// Log implements Event.
func (e MTASTSPolicyFetched) Log(log *slog.Logger) {
	logAttrs(log, slog.LevelInfo, MTASTSFetched,
		slog.String(DomainKey, e.Domain), slog.String(PolicyIDKey, e.ID),
		slog.String(ModeKey, e.Mode), slog.String(MaxAgeKey, e.MaxAge.String()))
}

// MTASTSPolicyFetchFailure is the event "mta_sts_policy_fetch_failed".
type MTASTSPolicyFetchFailure struct {
	Domain string
	ID     string
	Err    error
	Cached bool // a cached policy stays in force
}

// Name implements Event.
func (MTASTSPolicyFetchFailure) Name() string { return MTASTSFetchFailed }

// Log implements Event.
func (e MTASTSPolicyFetchFailure) Log(log *slog.Logger) {
	logAttrs(log, slog.LevelWarn, MTASTSFetchFailed,
		slog.String(DomainKey, e.Domain), slog.String(PolicyIDKey, e.ID),
		slog.String(ErrorKey, e.Err.Error()), slog.Bool(CachedKey, e.Cached))
}

// MTASTSPolicyExpiry is the event "mta_sts_policy_expired".
type MTASTSPolicyExpiry struct {
	Domain string
	ID     string
}

// Name implements Event.
func (MTASTSPolicyExpiry) Name() string { return MTASTSExpired }

// Log implements Event.
func (e MTASTSPolicyExpiry) Log(log *slog.Logger) {
	logAttrs(log, slog.LevelInfo, MTASTSExpired, slog.String(DomainKey, e.Domain), slog.String(PolicyIDKey, e.ID))
}

// MTASTSPolicyUnsaved is the event "mta_sts_policy_unsaved": check the
// data directory's space and permissions.
type MTASTSPolicyUnsaved struct {
	Domain string
	Err    error
}

// Name implements Event.
func (MTASTSPolicyUnsaved) Name() string { return MTASTSUnsaved }

// Log implements Event.
func (e MTASTSPolicyUnsaved) Log(log *slog.Logger) {
	logAttrs(log, slog.LevelError, MTASTSUnsaved, slog.String(DomainKey, e.Domain), slog.String(ErrorKey, e.Err.Error()))
}

// MTASTSCacheDamaged is the event "mta_sts_cache_damaged": the policy is
// fetched again.
type MTASTSCacheDamaged struct {
	Domain string
	File   string
	Err    error
}

// Name implements Event.
func (MTASTSCacheDamaged) Name() string { return MTASTSCacheDamage }

// Log implements Event.
func (e MTASTSCacheDamaged) Log(log *slog.Logger) {
	logAttrs(log, slog.LevelWarn, MTASTSCacheDamage,
		slog.String(DomainKey, e.Domain), slog.String(FileKey, e.File), slog.String(ErrorKey, e.Err.Error()))
}
