package events

import (
	"fmt"
	"io/fs"
	"log/slog"
)

// Start is the event "started": the listeners are open.
type Start struct {
	Listen   []string // the submission listeners' addresses
	Hostname string
	Mode     string // delivery.mode
}

// Name implements Event.
func (Start) Name() string { return Started }

// Log implements Event.
func (e Start) Log(log *slog.Logger) {
	logAttrs(log, slog.LevelInfo, Started,
		slog.Any(ListenKey, e.Listen), slog.String(HostnameKey, e.Hostname), slog.String(ModeKey, e.Mode))
}

// ReloadResult is the event "reload": at Info with result "ok", or at
// Error with what kept the new logins from loading (the previous ones stay
// in force).
type ReloadResult struct {
	Err error
}

// Name implements Event.
func (ReloadResult) Name() string { return Reload }

// Log implements Event.
func (e ReloadResult) Log(log *slog.Logger) {
	if e.Err != nil {
		logAttrs(log, slog.LevelError, Reload, slog.String(ErrorKey, e.Err.Error()))
		return
	}
	logAttrs(log, slog.LevelInfo, Reload, slog.String(ResultKey, "ok"))
}

// KeyDamage is the event "key_damaged": a key that is not signed with;
// the error names the file and the fix.
type KeyDamage struct {
	Err error
}

// Name implements Event.
func (KeyDamage) Name() string { return KeyDamaged }

// Log implements Event.
func (e KeyDamage) Log(log *slog.Logger) {
	logAttrs(log, slog.LevelError, KeyDamaged, slog.String(ErrorKey, e.Err.Error()))
}

// MissingKey is the event "no_active_key": a configured domain with no
// key to sign with, whose mail is refused.
type MissingKey struct {
	Domain string
}

// Name implements Event.
func (MissingKey) Name() string { return KeylessDomain }

// Log implements Event.
func (e MissingKey) Log(log *slog.Logger) {
	logAttrs(log, slog.LevelWarn, KeylessDomain, slog.String(DomainKey, e.Domain),
		slog.String(DetailKey, "mail from this domain is refused until a key is active: see `dkimrelay keys list`"))
}

// OpenDataDir is the event "data_dir_permissions": a data dir others may
// list.
type OpenDataDir struct {
	Dir  string
	Mode fs.FileMode // its permission bits
}

// Name implements Event.
func (OpenDataDir) Name() string { return DataDirPermissions }

// Log implements Event.
func (e OpenDataDir) Log(log *slog.Logger) {
	logAttrs(log, slog.LevelWarn, DataDirPermissions, slog.String(DirKey, e.Dir),
		slog.String(ModeKey, fmt.Sprintf("%04o", e.Mode.Perm())),
		slog.String(DetailKey, "the data dir holds the queue, the DKIM keys and the logins: run chmod 700 "+e.Dir))
}
