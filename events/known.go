package events

import (
	"slices"
	"strings"
)

// all lists every event's name; TestNamesListed keeps it complete.
var all = []string{
	Connect, Auth, Rejected, Accepted, SPF, DMARC,
	Delivered, Deferred, Bounced, Expired, Outbox,
	Deleted, Retry,
	Started, Stopping, Stopped, Reload, KeyDamaged, KeyForceActivated, KeylessDomain,
	DataDirPermissions, RunningAsRoot, TLSReload, MetricsServer, Egress, AuthBlocked,
	QueueDamaged, QueueLoaded, QueueLoadFailed, QueueUnknownFile, QueueFailed, BounceFailed, DuplicateIndex, QueueLeaseLost, ClusterMigrated, ClusterEmpty, ClusterPullFailed, ClusterEventsLost, ClusterNodes, TLSReport,
	ReportImported, ReportSkipped, ReportsFetchFailed,
	Duplicated, Suppressed, BlockedByReceiver, SuppressionFailed, ProviderPaused, ProviderResumed,
	NoRoute, MXSkipped, MXNextAddress, InternalSkipped, SmarthostNext, SmarthostAuthFail, TransactionDone, PooledSessionStale, MessageUnreadable,
	TLSFallback, STARTTLSDeclined, TLSPolicyTestingFault,
	MTASTSFetched, MTASTSFetchFailed, MTASTSExpired, MTASTSUnsaved, MTASTSCacheDamage,
}

// Names returns every event's name, sorted.
func Names() []string {
	n := slices.Clone(all)
	slices.Sort(n)
	return n
}

// Known reports whether name, in any case, is an event's name.
func Known(name string) bool {
	return slices.ContainsFunc(all, func(n string) bool { return strings.EqualFold(n, name) })
}
