// Package manpage writes the documentation that ships beside the binary,
// from the same command table the CLI prints as its help: the dkimrelay(8)
// manual page in roff (man(7) macros) and a bash completion script. Nothing
// is written by hand twice, so the package's man page cannot drift from
// `dkimrelay help`.
package manpage

import (
	"fmt"
	"io"
	"strings"
)

// Command is one runnable command: its full name ("keys generate"), its
// arguments as the help shows them and one line of help.
type Command struct {
	Name, Args, Help string
}

// Section is a titled part of the page; each paragraph is plain text.
type Section struct {
	Title      string
	Paragraphs []string
	// Items are tagged paragraphs (.TP): a term and its text.
	Items [][2]string
}

// Page is a manual page.
type Page struct {
	Name, Section, Version, Summary string
	Synopsis                        string
	Description                     []string
	Commands                        []Command
	// After are the sections that follow COMMANDS.
	After []Section
}

// escape makes plain text safe in roff: backslashes and hyphens escaped,
// a leading dot or quote kept from being read as a request.
func escape(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}

// WriteRoff writes p with the man(7) macros.
func (p Page) WriteRoff(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, ".TH %s %s \"\" \"%s %s\" \"System Administration\"\n", strings.ToUpper(p.Name), p.Section, p.Name, escape(p.Version))
	fmt.Fprintf(&b, ".SH NAME\n%s \\- %s\n", p.Name, escape(p.Summary))
	fmt.Fprintf(&b, ".SH SYNOPSIS\n.B %s\n%s\n", p.Name, escape(p.Synopsis))
	b.WriteString(".SH DESCRIPTION\n")
	for i, par := range p.Description {
		if i > 0 {
			b.WriteString(".PP\n")
		}
		b.WriteString(escape(par) + "\n")
	}
	b.WriteString(".SH COMMANDS\n")
	for _, c := range p.Commands {
		tag := `\fB` + escape(strings.TrimSpace(p.Name+" "+c.Name)) + `\fR`
		if c.Args != "" {
			tag += ` \fI` + escape(c.Args) + `\fR`
		}
		fmt.Fprintf(&b, ".TP\n%s\n%s\n", tag, escape(c.Help))
	}
	for _, s := range p.After {
		fmt.Fprintf(&b, ".SH %s\n", escape(strings.ToUpper(s.Title)))
		for i, par := range s.Paragraphs {
			if i > 0 {
				b.WriteString(".PP\n")
			}
			b.WriteString(escape(par) + "\n")
		}
		for _, it := range s.Items {
			fmt.Fprintf(&b, ".TP\n.B %s\n%s\n", escape(it[0]), escape(it[1]))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
