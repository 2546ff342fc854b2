package config

import (
	"fmt"
	"net"
	"reflect"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

func checkHostPort(a string) error {
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return fmt.Errorf("%q is not host:port", a)
	}
	if port == "" {
		return fmt.Errorf("%q has no port", a)
	}
	_ = host // an empty host means every address, which net.Listen accepts
	return nil
}

// validHostname checks the RFC 1123 host name syntax.
func validHostname(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	for _, l := range strings.Split(h, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// durationHint ends an error about a duration written wrong.
const durationHint = ` (use Go syntax such as "90s" or "120h")`

// checkDurations refuses a duration written as a bare number, which TOML
// would read as nanoseconds, and a negative one, naming the key.
func checkDurations(md toml.MetaData, c *Config) error {
	return eachDuration(reflect.ValueOf(c).Elem(), nil, func(key []string, d time.Duration) error {
		name := strings.Join(key, ".")
		if md.IsDefined(key...) && md.Type(key...) != "String" {
			return fmt.Errorf("%s is not a duration%s", name, durationHint)
		}
		if d < 0 {
			return fmt.Errorf("%s = %s is negative", name, d)
		}
		return nil
	})
}

var durationType = reflect.TypeFor[time.Duration]()

// eachDuration calls fn with each time.Duration field of the struct v and
// its nested tables, by TOML key.
func eachDuration(v reflect.Value, prefix []string, fn func([]string, time.Duration) error) error {
	t := v.Type()
	for i := range t.NumField() {
		name := t.Field(i).Tag.Get("toml")
		if name == "" || name == "-" {
			continue
		}
		key := append(prefix[:len(prefix):len(prefix)], name)
		f := v.Field(i)
		switch {
		case f.Type() == durationType:
			if err := fn(key, time.Duration(f.Int())); err != nil {
				return err
			}
		case f.Kind() == reflect.Struct:
			if err := eachDuration(f, key, fn); err != nil {
				return err
			}
		}
	}
	return nil
}
