package relay

import (
	"context"
	"encoding/json"
)

// registerControl names the commands the CLI may send over the control
// socket. Each command's handler lives beside the part of the relay it
// concerns: the queue commands in queuecmds.go.
func (r *Relay) registerControl() {
	r.ctl.Handle("reload", func(context.Context, json.RawMessage) (any, error) {
		return nil, r.Reload()
	})
	r.registerQueueCommands()
}
