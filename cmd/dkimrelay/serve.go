package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"dkimrelay/cmd/dkimrelay/internal/setup"
	"dkimrelay/config"
	"dkimrelay/events"
	"dkimrelay/relay"
)

// tryDir is where the try-out relay keeps its files.
const tryDir = "dkimrelay-try"

func runServe(e *env, args []string) error {
	fs := newFlags(e, "serve")
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	path := e.configPath
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) && !e.configExplicit {
		p, password, err := setup.TryOut(tryDir)
		if err != nil {
			return fmt.Errorf("setting up the try-out relay in %s: %w", tryDir, err)
		}
		fmt.Fprint(e.stderr, setup.TryBanner(p, password, programName()))
		path = p
	}
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	log, logFile, err := events.OpenLog(cfg.Log.File, cfg.Log.Level)
	if err != nil {
		return fmt.Errorf("opening log.file: %w", err)
	}
	defer logFile.Close()
	r, err := relay.New(cfg, log)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	// SIGHUP reloads logins and keys and reopens the log; SIGUSR1 only
	// reopens the log (logrotate's postrotate).
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGUSR1)
	defer signal.Stop(sigs)
	go func() {
		for s := range sigs {
			if err := logFile.Reopen(); err != nil {
				fmt.Fprintln(e.stderr, "dkimrelay: reopening log:", err)
			}
			if s == syscall.SIGHUP {
				r.Reload()
			}
		}
	}()
	return r.Run(ctx)
}

// programName is how the person who started this process runs dkimrelay:
// through `go run` the binary lives in a temporary build folder.
func programName() string {
	if strings.Contains(os.Args[0], "go-build") {
		return "go run ./cmd/dkimrelay"
	}
	return "dkimrelay"
}
