package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"dkimrelay/config"
	"dkimrelay/control"
)

// notifyRelay asks a running relay to reload logins and keys, so a change
// made by the CLI takes effect at once without dropping a connection.
func notifyRelay(e *env, cfg *config.Config) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := control.Call(ctx, cfg.ControlSocket(), "reload", nil, nil)
	switch {
	case err == nil:
		fmt.Fprintln(e.stdout, "The running relay has reloaded.")
	case errors.Is(err, control.ErrNotRunning):
		fmt.Fprintln(e.stdout, "No relay is running; it reads the change when it starts.")
	default:
		fmt.Fprintf(e.stderr, "warning: the running relay could not reload: %v\n", err)
	}
}
