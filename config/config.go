// Package config loads and validates dkimrelay's TOML configuration file.
//
// The file's keys are the outside interface documented in the README: an
// unknown key or a bad value stops the start with an error that names the
// key and the file, because a typo that silently falls back to a default is
// how mail ends up unsigned or undelivered. Relative paths resolve against the
// folder that holds the file, so the same config works wherever the relay is
// started from.
//
// Every value is checked, defaulted and typed here, once: durations are
// time.Duration, addresses netip.Addr, choices named types. The packages
// that use a section take it as it is.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/BurntSushi/toml"
)

// Config is the whole configuration after defaults and validation.
type Config struct {
	// Path is the file the config was read from (absolute).
	Path string `toml:"-"`

	Hostname string `toml:"hostname"`
	DataDir  string `toml:"data_dir"`

	Submission Submission `toml:"submission"`
	Domains    []Domain   `toml:"domains"`
	Delivery   Delivery   `toml:"delivery"`
	DNS        DNS        `toml:"dns"`
	Keys       Keys       `toml:"keys"`
	Log        Log        `toml:"log"`
	Metrics    Metrics    `toml:"metrics"`
	Reports    Reports    `toml:"reports"`
	TLSRPT     TLSRPT     `toml:"tlsrpt"`
	Cluster    Cluster    `toml:"cluster"`
}

// Load reads, defaults and validates the config file at path.
func Load(path string) (*Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(abs)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("config file %s does not exist: create one with `dkimrelay init --domain YOUR.DOMAIN` or pass --config", abs)
		}
		return nil, fmt.Errorf("reading config: %w", err)
	}
	return Parse(abs, b)
}

// Parse decodes the TOML text b as if read from the file at path.
func Parse(path string, b []byte) (*Config, error) {
	c := Defaults()
	c.Path = path
	md, err := toml.NewDecoder(bytes.NewReader(b)).Decode(c)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, describeTOMLError(err))
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return nil, fmt.Errorf("%s: unknown key %s: check its spelling against the README's config reference", path, strings.Join(keys, ", "))
	}
	if err := checkDurations(md, c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c.resolvePaths()
	return c, nil
}

func describeTOMLError(err error) error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		msg := pe.Message
		if strings.HasPrefix(msg, "invalid duration") {
			msg += durationHint
		}
		if pe.LastKey != "" {
			return fmt.Errorf("line %d, key %s: %s", pe.Position.Line, pe.LastKey, msg)
		}
		return fmt.Errorf("line %d: %s", pe.Position.Line, msg)
	}
	return err
}

// validate checks every value and names the key that is wrong.
func (c *Config) validate() error {
	if c.Hostname == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			return errors.New("hostname is not set and the system's host name is unknown: set hostname = \"mail.example.org\"")
		}
		c.Hostname = h
	}
	if !validHostname(c.Hostname) {
		return fmt.Errorf("hostname %q is not a valid host name", c.Hostname)
	}
	if c.DataDir == "" {
		return errors.New("data_dir must not be empty")
	}
	if err := c.Submission.validate(); err != nil {
		return err
	}
	if err := validateDomains(c.Domains); err != nil {
		return err
	}
	if err := c.Delivery.validate(); err != nil {
		return err
	}
	if err := c.TLSRPT.validate(c); err != nil {
		return err
	}
	if err := c.DNS.validate(); err != nil {
		return err
	}
	// Messages are signed when accepted: a key that leaves DNS while a
	// message signed with it still waits in the queue would fail DKIM at
	// the receiver.
	if c.Keys.RetireAfter < c.Delivery.MaxLifetime {
		return fmt.Errorf("keys.retire_after (%s) is shorter than delivery.max_lifetime (%s): a retired key must stay published as long as a message signed with it can wait in the queue", c.Keys.RetireAfter, c.Delivery.MaxLifetime)
	}
	if err := c.Keys.validate(); err != nil {
		return err
	}
	if err := c.Log.validate(); err != nil {
		return err
	}
	if err := c.Metrics.validate(); err != nil {
		return err
	}
	if err := c.Cluster.validate(); err != nil {
		return err
	}
	return c.Reports.validate()
}

// resolvePaths makes every file path absolute, relative to the config's folder.
func (c *Config) resolvePaths() {
	base := filepath.Dir(c.Path)
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(base, *p)
		}
	}
	abs(&c.DataDir)
	abs(&c.Submission.TLSCert)
	abs(&c.Submission.TLSKey)
	abs(&c.Delivery.SmarthostPasswordFile)
	abs(&c.Delivery.Outbox)
	abs(&c.Delivery.TLSCAFile)
	abs(&c.Log.File)
	abs(&c.Keys.Publish.TSIGSecretFile)
	abs(&c.Metrics.PasswordFile)
	c.Reports.resolvePaths(abs)
}

// HasDomain reports whether name is one of the configured sending domains.
func (c *Config) HasDomain(name string) bool {
	name = strings.ToLower(name)
	for _, d := range c.Domains {
		if d.Name == name {
			return true
		}
	}
	return false
}

// KeysDir, QueueDir, UsersFile and ControlSocket name the files kept in data_dir.
func (c *Config) KeysDir() string   { return filepath.Join(c.DataDir, "keys") }
func (c *Config) QueueDir() string  { return filepath.Join(c.DataDir, "queue") }
func (c *Config) UsersFile() string { return filepath.Join(c.DataDir, "users.toml") }

// SuppressionsFile is the suppression list (docs/deliverability.md).
func (c *Config) SuppressionsFile() string { return filepath.Join(c.DataDir, "suppressions.json") }
func (c *Config) ControlSocket() string    { return filepath.Join(c.DataDir, "control.sock") }
