package testkit

import (
	"fmt"
	"strings"
)

// TOML builds a relay config file, table by table.
type TOML struct{ b strings.Builder }

// Line adds one line, formatted as by fmt.Sprintf.
func (c *TOML) Line(format string, args ...any) {
	fmt.Fprintf(&c.b, format+"\n", args...)
}

// Table adds the table name with the lines of defaults, each replaced by
// the line of overrides that sets the same key, then the other lines of
// overrides in their order.
func (c *TOML) Table(name string, defaults []string, overrides string) {
	key := func(line string) string { k, _, _ := strings.Cut(line, "="); return strings.TrimSpace(k) }
	over := map[string]string{}
	var order []string
	for _, l := range strings.Split(overrides, "\n") {
		if strings.TrimSpace(l) == "" {
			continue
		}
		over[key(l)] = l
		order = append(order, key(l))
	}
	c.Line("[%s]", name)
	for _, l := range defaults {
		if o, ok := over[key(l)]; ok {
			l = o
			delete(over, key(l))
		}
		c.Line("%s", l)
	}
	for _, k := range order {
		if l, ok := over[k]; ok {
			c.Line("%s", l)
			delete(over, k)
		}
	}
}

// String is the config file.
func (c *TOML) String() string { return c.b.String() }
