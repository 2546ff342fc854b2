package main

import (
	"errors"
	"flag"
	"io"
	"strings"
)

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// newFlags makes a command's flag set; it also accepts --config so the
// global flag may stand after the command, as administrators type it.
func newFlags(e *env, name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Func("config", "config file", func(v string) error {
		e.configPath, e.configExplicit = v, true
		return nil
	})
	return fs
}

// parse parses flags and positional arguments in any order ("users add
// NAME --allow X" as well as "users add --allow X NAME") and checks the
// number of positional arguments.
func parse(fs *flag.FlagSet, args []string, minPos, maxPos int) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usagef("%s: %v", fs.Name(), err)
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		if args[0] == "--" {
			pos = append(pos, args[1:]...)
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if len(pos) < minPos || len(pos) > maxPos {
		switch {
		case maxPos == 0:
			return nil, usagef("%s takes no arguments besides flags (got %q)", fs.Name(), pos)
		case minPos == maxPos:
			return nil, usagef("%s needs %d argument(s), got %d", fs.Name(), minPos, len(pos))
		default:
			return nil, usagef("%s needs %d to %d arguments, got %d", fs.Name(), minPos, maxPos, len(pos))
		}
	}
	return pos, nil
}
