package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"dkimrelay/config"
	"dkimrelay/relay/metrics"
)

// runHealthcheck is the container's HEALTHCHECK: images without a shell or
// curl (distroless, scratch) run the binary itself against /healthz.
func runHealthcheck(e *env, args []string) error {
	fs := newFlags(e, "healthcheck")
	listen := fs.String("listen", "", "address of /healthz (default: the config's metrics.listen)")
	timeout := fs.Duration("timeout", 5*time.Second, "how long to wait for the answer")
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	addr := *listen
	if addr == "" {
		cfg, err := config.Load(e.configPath)
		if err != nil {
			return err
		}
		if addr = cfg.Metrics.Listen; addr == "" {
			return errors.New("metrics.listen is not set, so there is no /healthz to ask: set it (e.g. \"127.0.0.1:9187\") in the config, or pass --listen")
		}
	}
	if err := metrics.Probe(context.Background(), addr, *timeout); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, "healthy")
	return nil
}
