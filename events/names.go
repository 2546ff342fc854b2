package events

// The events' names: the "msg" field of each line of the event log. They
// are part of the documented interface (README.md, "Logs"): administrators'
// scripts and `dkimrelay logs --status` select on them, so a name, once
// logged, is never changed.
const (
	// Submission: one SMTP client's session.
	Connect  = "connect"  // a connection was taken
	Auth     = "auth"     // an AUTH attempt and its result
	Rejected = "rejected" // a command or connection refused, with the reply
	Accepted = "accepted" // a message durably queued (also a bounce)
	SPF      = "spf"      // an SPF check of the egress addresses
	DMARC    = "dmarc"    // a DMARC alignment check

	// Delivery: one recipient's outcome.
	Delivered = "delivered" // the receiving server took the message
	Deferred  = "deferred"  // a temporary failure: tried again later
	Bounced   = "bounced"   // a permanent failure: a bounce goes back
	Expired   = "expired"   // temporary failures until max_lifetime: bounced
	Outbox    = "outbox"    // outbox mode: the message written to a file

	// Queue commands of the administrator.
	Deleted = "deleted" // queue delete
	Retry   = "retry"   // queue retry

	// The relay's own life (life.go).
	Started            = "started"              // listening, with the settings in force
	Stopping           = "stopping"             // SIGTERM: draining
	Stopped            = "stopped"              // drained
	Reload             = "reload"               // SIGHUP: config, logins and keys read again
	KeyDamaged         = "key_damaged"          // a key file that cannot be used
	KeyForceActivated  = "key_force_activated"  // keys activate --force against DNS (logged by the CLI)
	KeylessDomain      = "no_active_key"        // a configured domain that cannot send
	DataDirPermissions = "data_dir_permissions" // a data dir others may list
	RunningAsRoot      = "running_as_root"      // started as root
	TLSReload          = "tls_reload"           // the TLS certificate or key changed and cannot be used
	MetricsServer      = "metrics"              // the metrics endpoint listening, or failing
	Egress             = "egress"               // the egress addresses SPF is checked for
	AuthBlocked        = "auth_blocked"         // an address blocked after repeated AUTH failures

	// The queue (queue.go).
	QueueDamaged      = "queue_damaged"       // a queue file moved aside at start
	QueueLoaded       = "queue_loaded"        // the queue read at start
	QueueLoadFailed   = "queue_load_failed"   // the queue could not be read at start
	QueueUnknownFile  = "queue_unknown_file"  // a file the queue did not write, left alone
	QueueFailed       = "queue"               // the queue could not take or record an attempt
	BounceFailed      = "bounce_failed"       // a bounce could not be queued: tried again
	DuplicateIndex    = "duplicate_index"     // the duplicate window's index could not be written
	QueueLeaseLost    = "queue_lease_renewal" // cluster: the leases of the messages in delivery could not be renewed
	ClusterMigrated   = "cluster_migrated"    // cluster: a schema migration applied to the database
	ClusterEmpty      = "cluster_empty"       // cluster: the database holds no logins or keys yet
	ClusterPullFailed = "cluster_pull"        // cluster: the logins and keys could not be read from the database
	ClusterEventsLost = "cluster_events"      // cluster: message events could not be written to the database
	ClusterNodes      = "cluster_nodes"       // cluster: the number of relays alive changed (each keeps to its share of the pacing limits)
	TLSReport         = "tlsrpt"              // a TLS report sent (or skipped) to a domain, or gathering them failed
)

// The events' field names. slog.TimeKey, slog.LevelKey and
// slog.MessageKey (the event's name) come first on every line.
const (
	QIDKey         = "qid"          // the queue ID of the message concerned
	UserKey        = "user"         // the submission login
	MechanismKey   = "mechanism"    // the SASL mechanism of an AUTH
	ResultKey      = "result"       // auth: "ok" or "failed"; spf, dmarc: the result
	CodeKey        = "code"         // an SMTP reply code (ours or the remote's)
	ReasonKey      = "reason"       // why: the reply text or the failure
	FromKey        = "from"         // the envelope sender
	RcptsKey       = "rcpts"        // the envelope recipients
	RcptKey        = "rcpt"         // the one recipient an event is about
	SizeKey        = "size"         // the message size in bytes
	DKIMKey        = "dkim"         // the selectors that signed
	SignTimeKey    = "sign_time"    // how long signing took
	KindKey        = "kind"         // accepted: "bounce" for a bounce; absent for submitted mail
	OrigQIDKey     = "orig_qid"     // a bounce's original message
	MXKey          = "mx"           // the host that answered
	TLSKey         = "tls"          // the TLS version of the delivery, or "none"
	TLSPolicyKey   = "tls_policy"   // the outbound TLS policy a delivery was held to
	DelayKey       = "delay"        // time from acceptance to delivery or expiry
	ReplyKey       = "reply"        // the remote's reply to a delivery
	NextAttemptKey = "next_attempt" // when a deferred recipient is tried again
	RemoteKey      = "remote"       // the client's address and port
	LocalKey       = "local"        // the listener's address and port
	HeloKey        = "helo"         // the name the client gave in EHLO
	CachedKey      = "cached"       // answered from a cache
	UntilKey       = "until"        // when a block ends
	RepeatedKey    = "repeated"     // further identical refusals on the connection, not logged one by one
	DomainKey      = "domain"       // the domain checked
	IPKey          = "ip"           // the address checked
	PolicyKey      = "policy"       // spf, dmarc: the configured spf_policy
	DetailKey      = "detail"       // a longer explanation for the administrator
	ErrorKey       = "error"        // what went wrong
	MessagesKey    = "messages"     // retry --all: how many messages
	AttemptsKey    = "attempts"     // how many delivery attempts were made
	FileKey        = "file"         // outbox: the file written; queue_unknown_file: the file found
	VerifyKey      = "verify"       // outbox: the command that checks the file's signatures
	ListenKey      = "listen"       // started, metrics: the listening addresses
	HostnameKey    = "hostname"     // started: the EHLO name
	ModeKey        = "mode"         // started: delivery.mode; data_dir_permissions: the folder's mode bits
	DirKey         = "dir"          // the folder concerned
	MovedToKey     = "moved_to"     // queue_damaged: where the files went
	IPsKey         = "ips"          // egress: the addresses
	SPFPolicyKey   = "spf_policy"   // egress: delivery.spf_policy
	SourceKey      = "source"       // "cli" for events the command line logs
	SelectorKey    = "selector"     // a DKIM key's selector
	DNSKey         = "dns"          // key_force_activated: what DNS publishes
	VersionKey     = "version"      // cluster_migrated: the schema version
	NameKey        = "name"         // cluster_migrated: the migration's name
	RelaysKey      = "relays"       // cluster_nodes: the relays alive, this one included
	ToKey          = "to"           // tlsrpt: the report's recipients
	SessionsKey    = "sessions"     // tlsrpt: the sessions the report counts
	SkippedKey     = "skipped"      // tlsrpt: why no report went out

	MailFromDomainKey = "mail_from_domain" // dmarc: the envelope sender's domain
	DKIMDomainsKey    = "dkim_domains"     // dmarc: the domains that sign
	DKIMAlignedKey    = "dkim_aligned"     // dmarc: a signing domain aligns with From:
	SPFAlignedKey     = "spf_aligned"      // dmarc: the envelope sender's domain aligns with From:
	RecordKey         = "record"           // dmarc: where the record was found
	DMARCPolicyKey    = "p"                // dmarc: the record's p= policy
	ClassKey          = "class"            // accepted: the login's traffic class (transactional, bulk)
	UnsubscribeKey    = "unsubscribe"      // accepted, bulk class: "signed" when both RFC 8058 one-click fields are there and signed, else "missing"
	ProviderKey       = "provider"         // provider_paused: the destination provider (docs/deliverability.md)
	RateKey           = "rate"             // provider_paused: the share of its rates the provider gets after the pause
)
