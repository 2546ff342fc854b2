// Command dkimrelay is an outbound mail relay for self-hosted applications:
// authenticated SMTP submission, DKIM signing, a durable queue and delivery.
// This file only parses the command line; the work is in the packages.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// Exit codes of the contract.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

// usageError marks a mistake on the command line (exit 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

// env is what a command reads and writes, so tests can run commands
// without a process.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	configPath     string
	configExplicit bool
}

type command struct {
	name, args, help string
	run              func(e *env, args []string) error
	sub              []*command
}

func commands() []*command {
	return shared([]*command{
		{name: "init", args: "--domain D [--hostname H] [--dir DIR] [--listen ADDR] [--listen-tls ADDR] [--metrics-listen ADDR] [--algorithm A]", help: "write a config, TLS certificate and first DKIM key", run: runInit},
		{name: "serve", help: "run the relay in the foreground", run: runServe},
		{name: "users", help: "manage submission logins", sub: []*command{
			{name: "add", args: "NAME --allow SENDER... [--class transactional|bulk] [--generate]", help: "add a login (password from stdin or a prompt)", run: runUsersAdd},
			{name: "list", help: "list logins and their allowed senders", run: runUsersList},
			{name: "remove", args: "NAME", help: "remove a login", run: runUsersRemove},
			{name: "passwd", args: "NAME [--generate]", help: "set a login's password", run: runUsersPasswd},
			{name: "class", args: "NAME transactional|bulk", help: "set a login's traffic class", run: runUsersClass},
		}},
		{name: "keys", help: "manage DKIM keys", sub: []*command{
			{name: "generate", args: "--domain D [--algorithm A] [--selector S]", help: "make a pending key and print (or --publish) its DNS record", run: runKeysGenerate},
			{name: "list", args: "[--json]", help: "list keys and their states", run: runKeysList},
			{name: "dns", args: "--domain D [--selector S] [--value]", help: "print DNS TXT records", run: runKeysDNS},
			{name: "activate", args: "--domain D --selector S [--force]", help: "start signing with a key", run: runKeysActivate},
			{name: "check", args: "--domain D [--json]", help: "check that DNS publishes every pending and active key", run: runKeysCheck},
			{name: "rotate", args: "--domain D [--algorithm A] [--now] [--quiet] [--publish]", help: "one cron-safe step of key rotation (--now: start early)", run: runKeysRotate},
			{name: "prune", args: "[--domain D] [--quiet] [--publish]", help: "remove retiring keys past keys.retire_after", run: runKeysPrune},
			{name: "remove", args: "--domain D --selector S [--publish]", help: "drop a pending key that never signed", run: runKeysRemove},
		}},
		{name: "queue", help: "inspect and act on the running relay's queue", sub: []*command{
			{name: "list", args: "[--json]", help: "queued messages and each recipient's state", run: runQueueList},
			{name: "show", args: "QID [--json]", help: "one message with its header", run: runQueueShow},
			{name: "retry", args: "QID|--all", help: "make a message (or all) due now", run: runQueueRetry},
			{name: "delete", args: "QID", help: "remove a message without a bounce", run: runQueueDelete},
		}},
		{name: "suppressions", help: "the recipients the relay does not deliver to", sub: []*command{
			{name: "list", args: "[--json]", help: "suppressed addresses, why and until when", run: runSuppressionsList},
			{name: "add", args: "ADDR [--reason R]", help: "suppress an address until it is removed", run: runSuppressionsAdd},
			{name: "remove", args: "ADDR", help: "lift a suppression", run: runSuppressionsRemove},
		}},
		{name: "logs", args: "[--id QID] [--rcpt ADDR] [--status S] [--since D] [--follow] [--json]", help: "show the relay's events, one line each", run: runLogs},
		{name: "reports", args: "[--domain D] [--since DURATION] [--json]", help: "what the receivers' DMARC and TLS reports say about the relay", run: runReports, sub: []*command{
			{name: "import", args: "PATH...", help: "store the DMARC and TLS reports in files, messages, mbox, Maildir or - (stdin)", run: runReportsImport},
		}},
		{name: "check", args: "--domain D [--json] [--no-probe]", help: "check the DNS records and network for sending as D", run: runCheck},
		{name: "tlsrpt", help: "SMTP TLS reports (RFC 8460) about the relay's outbound sessions", sub: []*command{
			{name: "send", args: "[--json]", help: "send the reports gathered so far now, as the daily run does", run: runTLSRPTSend},
		}},
		{name: "tls", args: "DOMAIN [--json]", help: "show what TLS delivery to DOMAIN requires now, and why", run: runTLS},
		{name: "verify", args: "FILE|- [--ip IP] [--mail-from A] [--offline] [--json]", help: "check a received message's DKIM, SPF and DMARC and explain failures", run: runVerify},
		{name: "healthcheck", args: "[--listen ADDR] [--timeout D]", help: "exit 0 when the running relay's /healthz answers (for container health checks)", run: runHealthcheck},
		{name: "cluster", help: "several relays sharing one PostgreSQL (docs/cluster.md)", sub: []*command{
			{name: "import", help: "copy this relay's logins, keys and queued messages into the cluster database (idempotent)", run: runClusterImport},
		}},
		{name: "version", help: "print version and build information", run: runVersion},
	})
}

func main() {
	e := &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}
	os.Exit(run(e, os.Args[1:]))
}

func run(e *env, args []string) int {
	err := dispatch(e, args)
	if err == nil {
		return exitOK
	}
	var ue usageError
	if errors.As(err, &ue) || errors.Is(err, flag.ErrHelp) {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(e.stderr, "dkimrelay:", err)
		}
		return exitUsage
	}
	fmt.Fprintln(e.stderr, "dkimrelay:", err)
	return exitFail
}

// dispatch takes the global --config flag (accepted before the command or
// among its flags) and runs the command.
func dispatch(e *env, args []string) error {
	global := flag.NewFlagSet("dkimrelay", flag.ContinueOnError)
	global.SetOutput(io.Discard)
	cfg := global.String("config", "", "config file")
	if err := global.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(e.stdout, commands(), "")
			return nil
		}
		return usagef("%v", err)
	}
	e.configPath, e.configExplicit = *cfg, *cfg != ""
	if !e.configExplicit {
		if p := os.Getenv("DKIMRELAY_CONFIG"); p != "" {
			e.configPath, e.configExplicit = p, true
		} else {
			e.configPath = "dkimrelay.toml"
		}
	}
	rest := global.Args()
	cmds, prefix := commands(), ""
	for {
		if len(rest) == 0 {
			printUsage(e.stderr, cmds, prefix)
			return usagef("missing command")
		}
		if rest[0] == "help" || rest[0] == "-h" || rest[0] == "--help" {
			if ok, err := runHelpFormat(e.stdout, rest[1:]); ok || err != nil {
				return err
			}
			printUsage(e.stdout, cmds, prefix)
			return nil
		}
		c := find(cmds, rest[0])
		if c == nil {
			return usagef("unknown command %q; run `dkimrelay help`", strings.TrimSpace(prefix+" "+rest[0]))
		}
		prefix, rest = strings.TrimSpace(prefix+" "+c.name), rest[1:]
		// A command with subcommands may also run by itself ("reports"
		// and "reports import").
		if c.sub == nil || (c.run != nil && (len(rest) == 0 || find(c.sub, rest[0]) == nil)) {
			return c.run(e, rest)
		}
		cmds = c.sub
	}
}

func find(cmds []*command, name string) *command {
	for _, c := range cmds {
		if c.name == name {
			return c
		}
	}
	return nil
}

func printUsage(w io.Writer, cmds []*command, prefix string) {
	fmt.Fprintln(w, "Usage: dkimrelay [--config PATH] COMMAND [ARGS]")
	fmt.Fprintln(w, "\nCommands:")
	var walk func(cs []*command, p string)
	walk = func(cs []*command, p string) {
		for _, c := range cs {
			name := strings.TrimSpace(p + " " + c.name)
			if c.sub != nil && c.run != nil {
				fmt.Fprintf(w, "  %-18s %-48s %s\n", name, c.args, c.help)
			}
			if c.sub != nil {
				walk(c.sub, name)
				continue
			}
			fmt.Fprintf(w, "  %-18s %-48s %s\n", name, c.args, c.help)
		}
	}
	walk(cmds, prefix)
	fmt.Fprintln(w, "\n--config defaults to $DKIMRELAY_CONFIG, else ./dkimrelay.toml.")
}
