package relay

import (
	"context"
	"dkimrelay/relay/queuectl"
	"encoding/json"
)

// registerControl names the commands the CLI may send over the control
// socket: reload here, the queue commands in package queuectl.
func (r *Relay) registerControl() {
	r.ctl.Handle("reload", func(context.Context, json.RawMessage) (any, error) {
		return nil, r.Reload()
	})
	r.registerTLSReports()
	queuectl.Register(r.ctl, r.store, r.cfg.Submission.MaxHeaderSize, r.log)
}
