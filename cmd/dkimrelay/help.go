package main

import (
	"fmt"
	"io"
	"strings"

	"dkimrelay/cmd/dkimrelay/internal/manpage"
)

// leafCommands flattens the command table: "keys generate", ... in the
// order the help prints them.
func leafCommands(cmds []*command, prefix string) []manpage.Command {
	var out []manpage.Command
	for _, c := range cmds {
		name := strings.TrimSpace(prefix + " " + c.name)
		if c.sub != nil {
			out = append(out, leafCommands(c.sub, name)...)
			// A command that also runs by itself ("reports") comes after
			// its subcommands, so the completion's "reports *" pattern
			// does not take "reports import".
			if c.run == nil {
				continue
			}
		}
		out = append(out, manpage.Command{Name: name, Args: c.args, Help: c.help})
	}
	return out
}

// runHelpFormat answers the hidden `help --man` and `help
// --bash-completion`, which the Debian package's build runs; ok is false
// for any other help request.
func runHelpFormat(w io.Writer, args []string) (ok bool, err error) {
	if len(args) != 1 {
		return false, nil
	}
	switch args[0] {
	case "--man":
		return true, manPage().WriteRoff(w)
	case "--bash-completion":
		return true, manpage.WriteBashCompletion(w, "dkimrelay", leafCommands(commands(), ""), []string{"--config", "--help"})
	}
	return false, nil
}

func manPage() manpage.Page {
	return manpage.Page{
		Name: "dkimrelay", Section: "8", Version: version,
		Summary:  "outbound mail relay for self-hosted applications: SMTP submission, DKIM signing, queue and delivery",
		Synopsis: "[--config PATH] COMMAND [ARGS]",
		Description: []string{
			"dkimrelay takes mail from an application (Mastodon first) over authenticated SMTP submission, checks that the login may send as the sender, DKIM-signs the message with the domain's active keys, writes it durably to its queue and delivers it to each recipient's MX host or to a smarthost, with retries and bounces.",
			"Every command takes --config PATH, before or after the command name. Passwords and private keys are never taken from the command line. The README (/usr/share/doc/dkimrelay/README.md) describes every command and configuration key.",
		},
		Commands: leafCommands(commands(), ""),
		After: []manpage.Section{
			{Title: "Environment", Items: [][2]string{{"DKIMRELAY_CONFIG", "the config file when --config is not given; else ./dkimrelay.toml. With neither and no such file, serve runs the try-out relay in ./dkimrelay-try."}}},
			{Title: "Files", Items: [][2]string{
				{"/var/lib/dkimrelay/dkimrelay.toml", "the config the packaged service reads, written by dkimrelay init --dir /var/lib/dkimrelay."},
				{"/var/lib/dkimrelay/data", "the queue, DKIM keys, logins and control socket (mode 0700)."},
				{"/etc/dkimrelay/dkimrelay.toml", "every configuration key with its default, commented out: a reference to copy from."},
			}},
			{Title: "Exit status", Items: [][2]string{{"0", "success"}, {"1", "the operation or check failed"}, {"2", "usage error"}}},
			{Title: "See also", Paragraphs: []string{fmt.Sprintf("systemctl(1), swaks(1); %s", "the guides in /usr/share/doc/dkimrelay/.")}},
		},
	}
}
