// Package importer reads report files, messages, mbox files and Maildir
// folders and stores the reports found in them, each once.
package importer

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"dkimrelay/reports/store"
	"dkimrelay/reports/unpack"
)

// Outcome is what became of one report, or of one input (or part of one)
// that held none that could be used.
type Outcome struct {
	// Input is the file, "-" for standard input, or the name the caller
	// gave a reader.
	Input string
	// Where is the place inside the input (a zip member, an attachment).
	Where string
	// Report is set for a report found: Added says whether it was new.
	Report *store.Report
	Added  bool
	// Err is set when the input or part was skipped, and says why.
	Err error
}

// Skipped reports whether the outcome is a skipped input.
func (o Outcome) Skipped() bool { return o.Err != nil }

// Importer stores what it finds in a Store.
type Importer struct {
	Store  store.Store
	Limits unpack.Limits
}

// New makes an importer with the default limits.
func New(st store.Store) *Importer { return &Importer{Store: st, Limits: unpack.DefaultLimits} }

// Reader imports one input: a report, an archive, a message or an mbox
// file. Each report and each problem is passed to fn. The error is set
// only when the store failed, and then the import should stop: what was
// not stored must be imported again.
func (im *Importer) Reader(ctx context.Context, input string, r io.Reader, fn func(Outcome)) error {
	docs, problems := unpack.Read(r, im.Limits)
	for _, p := range problems {
		fn(Outcome{Input: input, Where: p.Where, Err: p.Err})
	}
	for _, d := range docs {
		var rep *store.Report
		if d.TLS != nil {
			rep = store.NewTLS(d.TLS)
		} else {
			rep = store.NewDMARC(d.DMARC)
		}
		rep.From = input
		if d.Where != "" {
			rep.From += " (" + d.Where + ")"
		}
		added, err := im.Store.Add(ctx, rep)
		if err != nil {
			return err
		}
		fn(Outcome{Input: input, Where: d.Where, Report: rep, Added: added})
	}
	return nil
}

// Path imports a file, a folder (a Maildir, or any folder of report
// files: every file in it and below, but for hidden ones and a Maildir's
// tmp/), or standard input for "-".
func (im *Importer) Path(ctx context.Context, path string, stdin io.Reader, fn func(Outcome)) error {
	if path == "-" {
		return im.Reader(ctx, "-", stdin, fn)
	}
	fi, err := os.Stat(path)
	if err != nil {
		fn(Outcome{Input: path, Err: unreadable(err)})
		return nil
	}
	if !fi.IsDir() {
		return im.file(ctx, path, fn)
	}
	var files []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			fn(Outcome{Input: p, Err: unreadable(err)})
			return nil
		}
		name := d.Name()
		if p != path && strings.HasPrefix(name, ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() && name == "tmp" && isMaildir(filepath.Dir(p)) {
			return filepath.SkipDir // messages still being delivered
		}
		if d.Type().IsRegular() {
			files = append(files, p)
		} else if d.Type()&fs.ModeSymlink != 0 {
			// A link to a file is read; links to folders are not
			// followed, so a loop cannot trap the walk.
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
				files = append(files, p)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	slices.Sort(files)
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := im.file(ctx, f, fn); err != nil {
			return err
		}
	}
	return nil
}

func (im *Importer) file(ctx context.Context, path string, fn func(Outcome)) error {
	f, err := os.Open(path)
	if err != nil {
		fn(Outcome{Input: path, Err: unreadable(err)})
		return nil
	}
	defer f.Close()
	return im.Reader(ctx, path, f, fn)
}

func isMaildir(dir string) bool {
	for _, sub := range []string{"cur", "new"} {
		if fi, err := os.Stat(filepath.Join(dir, sub)); err != nil || !fi.IsDir() {
			return false
		}
	}
	return true
}

func unreadable(err error) error {
	return fmt.Errorf("cannot be read: %w", err)
}

// Line is the outcome as one line for a person: "imported", "already
// stored" or "skipped", then the input and what was found or why.
func (o Outcome) Line() string {
	in := o.Input
	if o.Where != "" {
		in += " (" + o.Where + ")"
	}
	switch {
	case o.Err != nil:
		return fmt.Sprintf("skipped %s: %v", in, o.Err)
	case o.Added:
		return fmt.Sprintf("imported %s report %q %q from %s", o.Report.Kind, o.Report.Reporter, o.Report.ID, in)
	default:
		return fmt.Sprintf("already stored %s report %q %q from %s", o.Report.Kind, o.Report.Reporter, o.Report.ID, in)
	}
}
