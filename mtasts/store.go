package mtasts

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"dkimrelay/events"
	"dkimrelay/internal/atomicfile"
)

// Stored is a fetched policy as it is kept.
type Stored struct {
	Domain  string    `json:"domain"`
	ID      string    `json:"id"`     // from the _mta-sts record it was fetched for
	Text    string    `json:"policy"` // the file as served
	Fetched time.Time `json:"fetched"`
	Expires time.Time `json:"expires"` // Fetched plus max_age
	Policy  *Policy   `json:"-"`       // Text, parsed
}

// store keeps one JSON file per domain in a folder; no dir: nothing is
// kept. A read-only store reads the folder and never writes it.
type store struct {
	dir      string
	readOnly bool
}

func openStore(dir string, readOnly bool) (*store, error) {
	if dir == "" || readOnly {
		return &store{dir: dir, readOnly: readOnly}, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("mtasts: policy cache folder: %w", err)
	}
	return &store{dir: dir}, nil
}

func (s *store) path(domain string) string {
	return filepath.Join(s.dir, strings.ToLower(domain)+".json")
}

// load reads domain's kept policy; nil when none or unreadable (then it is
// fetched again).
func (s *store) load(domain string, log *slog.Logger) *Stored {
	if s.dir == "" {
		return nil
	}
	b, err := os.ReadFile(s.path(domain))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	var st Stored
	if err == nil {
		err = json.Unmarshal(b, &st)
	}
	if err == nil {
		st.Policy, err = Parse(st.Text)
	}
	if err != nil {
		events.MTASTSCacheDamaged{Domain: domain, File: s.path(domain), Err: err}.Log(log)
		return nil
	}
	return &st
}

func (s *store) save(st *Stored) error {
	if s.dir == "" || s.readOnly {
		return nil
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(s.path(st.Domain), append(b, '\n'), 0o600)
}

func (s *store) remove(domain string) {
	if s.dir != "" && !s.readOnly {
		_ = os.Remove(s.path(domain))
	}
}
