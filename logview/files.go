package logview

import (
	"bufio"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// rotatedMiddle is what logrotate puts between a log's name and its
// extension or end: a number (".1"), a date ("-20261102", "-2026-11-02")
// or a date and hour ("-2026110214").
var rotatedMiddle = regexp.MustCompile(`^[.-][0-9][0-9._-]*$`)

// Files returns the log at path and the rotated files beside it, oldest
// first, the current file last. It covers logrotate's numbered names
// (dkimrelay.log.1, dkimrelay.log.2.gz), its dated names (dkimrelay.log-
// 20261102[.gz]) and, with dateext and an extension, dkimrelay-20261102.log.
// Files are ordered by the time of their first event (file names do not
// order across the two naming schemes), and by modification time when they
// hold none. A missing current file is left out.
func Files(path string) ([]string, error) {
	dir, base := filepath.Dir(path), filepath.Base(path)
	ext := filepath.Ext(base)
	stem := strings.TrimSuffix(base, ext)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	type rotated struct {
		path string
		key  time.Time
	}
	var old []rotated
	for _, de := range entries {
		name := de.Name()
		if name == base || !de.Type().IsRegular() {
			continue
		}
		n := strings.TrimSuffix(name, ".gz")
		var middle string
		switch {
		case strings.HasPrefix(n, base):
			middle = strings.TrimPrefix(n, base)
		case ext != "" && strings.HasPrefix(n, stem) && strings.HasSuffix(n, ext):
			middle = strings.TrimSuffix(strings.TrimPrefix(n, stem), ext)
		default:
			continue
		}
		if !rotatedMiddle.MatchString(middle) {
			continue
		}
		p := filepath.Join(dir, name)
		old = append(old, rotated{p, firstTime(p)})
	}
	slices.SortStableFunc(old, func(a, b rotated) int {
		if c := a.key.Compare(b.key); c != 0 {
			return c
		}
		return strings.Compare(a.path, b.path)
	})
	out := make([]string, 0, len(old)+1)
	for _, r := range old {
		out = append(out, r.path)
	}
	if st, err := os.Stat(path); err == nil && st.Mode().IsRegular() {
		out = append(out, path)
	}
	return out, nil
}

// firstTime is the time of the first event in the file, or its
// modification time if it has none (empty, or nothing but damage).
func firstTime(path string) time.Time {
	f, err := os.Open(path)
	if err != nil {
		return time.Time{}
	}
	defer f.Close()
	if r, err := open(f, path); err == nil {
		br := bufio.NewReader(io.LimitReader(r, 4<<20))
		for range 1000 {
			line, err := br.ReadBytes('\n')
			if e, perr := Parse(line); perr == nil {
				return e.Time
			}
			if err != nil {
				break
			}
		}
	}
	if st, err := f.Stat(); err == nil {
		return st.ModTime()
	}
	return time.Time{}
}

// open returns the reader of a log file, decompressing a .gz one.
func open(f *os.File, path string) (io.Reader, error) {
	if !strings.HasSuffix(path, ".gz") {
		return f, nil
	}
	return gzip.NewReader(f)
}
