package store

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"dkimrelay/internal/atomicfile"
)

// Files keeps reports in one folder, normally <data_dir>/reports:
//
//	reports/.lock                         flock(2) taken by Add
//	reports/dmarc/google.com-1f3a….json   one file per report
//	reports/tlsrpt/microsoft.com-9b2c….json
//
// A file's name is derived from the report's key, so a report imported
// again maps to the same file and is found there.
type Files struct {
	dir string
	now func() time.Time
}

var _ Store = (*Files)(nil)

// OpenFiles opens the store in dir, creating it (mode 0700) if needed.
// Folders and files made by root in a data dir that belongs to the relay's
// user get that user as owner, so the relay can still write there.
func OpenFiles(dir string) (*Files, error) {
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return nil, fmt.Errorf("opening the report store: %w", err)
	}
	for _, d := range []string{dir, filepath.Join(dir, string(DMARC)), filepath.Join(dir, string(TLSRPT))} {
		if err := atomicfile.MkdirLikeParent(d, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("opening the report store: %w", err)
		}
	}
	return &Files{dir: dir, now: time.Now}, nil
}

// Dir is the store's folder.
func (s *Files) Dir() string { return s.dir }

func (s *Files) path(r *Report) string {
	sum := sha256.Sum256([]byte(r.Key()))
	return filepath.Join(s.dir, string(r.Kind), slug(r.Reporter)+"-"+hex.EncodeToString(sum[:16])+".json")
}

// slug keeps the letters, digits, dots and dashes of a reporter's name,
// for file names a person can recognise.
func slug(s string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(s) {
		if b.Len() >= 40 {
			break
		}
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '.', c == '-':
			b.WriteRune(c)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "_"):
			b.WriteByte('_')
		}
	}
	out := strings.Trim(b.String(), "._-")
	if out == "" {
		return "report"
	}
	return out
}

// Add implements Store.
func (s *Files) Add(ctx context.Context, r *Report) (bool, error) {
	if r.Kind != DMARC && r.Kind != TLSRPT {
		return false, fmt.Errorf("report store: unknown report kind %q", r.Kind)
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	l, err := atomicfile.LockFile(filepath.Join(s.dir, ".lock"))
	if err != nil {
		return false, fmt.Errorf("report store: %w", err)
	}
	defer l.Unlock()
	path := s.path(r)
	if _, err := os.Stat(path); err == nil {
		return false, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return false, fmt.Errorf("report store: %w", err)
	}
	stored := *r
	if stored.Imported.IsZero() {
		stored.Imported = s.now().UTC()
	}
	b, err := json.MarshalIndent(&stored, "", "  ")
	if err != nil {
		return false, fmt.Errorf("report store: %w", err)
	}
	if err := atomicfile.Write(path, append(b, '\n'), 0o600); err != nil {
		return false, fmt.Errorf("report store: writing %s: %w (check the free space and permissions of data_dir)", path, err)
	}
	return true, nil
}

// List implements Store.
func (s *Files) List(ctx context.Context, since time.Time) ([]*Report, error) {
	var out []*Report
	var damaged []error
	for _, k := range []Kind{DMARC, TLSRPT} {
		dir := filepath.Join(s.dir, string(k))
		ents, err := os.ReadDir(dir)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("report store: %w", err)
		}
		for _, e := range ents {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			name := e.Name()
			if e.IsDir() || strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".json") {
				continue
			}
			r, err := readReport(filepath.Join(dir, name), k)
			if err != nil {
				damaged = append(damaged, err)
				continue
			}
			if !since.IsZero() && r.End.Before(since) {
				continue
			}
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b *Report) int {
		return cmp.Or(a.End.Compare(b.End), cmp.Compare(a.Kind, b.Kind),
			cmp.Compare(strings.ToLower(a.Reporter), strings.ToLower(b.Reporter)), cmp.Compare(a.ID, b.ID))
	})
	return out, errors.Join(damaged...)
}

func readReport(path string, k Kind) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("report store: %w", err)
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil || r.Kind != k || (r.DMARC == nil) == (r.TLS == nil) {
		return nil, fmt.Errorf("report store: %s is damaged: delete it and import the report again", path)
	}
	return &r, nil
}
