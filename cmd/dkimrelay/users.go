package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"dkimrelay/config"
	"dkimrelay/users"
)

func usersFile(e *env) (string, *config.Config, error) {
	cfg, err := config.Load(e.configPath)
	if err != nil {
		return "", nil, err
	}
	return cfg.UsersFile(), cfg, nil
}

func runUsersAdd(e *env, args []string) error {
	fs := newFlags(e, "users add")
	var allow stringList
	fs.Var(&allow, "allow", "sender the login may use: addr@domain or @domain (repeatable)")
	gen := fs.Bool("generate", false, "generate a password and print it once")
	className := fs.String("class", string(users.Transactional), "traffic class: transactional (delivered first) or bulk (announcements, paced per provider)")
	pos, err := parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	class, err := users.ParseClass(*className)
	if err != nil {
		return usagef("users add --class: %v", err)
	}
	if len(allow) == 0 {
		return usagef("users add needs at least one --allow SENDER (addr@domain or @domain)")
	}
	path, cfg, err := usersFile(e)
	if err != nil {
		return err
	}
	for _, a := range allow {
		_, d, _ := strings.Cut(a, "@")
		if !cfg.HasDomain(d) {
			fmt.Fprintf(e.stderr, "warning: %s is not in the config's [[domains]]; mail from it will be refused until it is added\n", d)
		}
	}
	pw, err := newPassword(e, *gen)
	if err != nil {
		return err
	}
	if err := users.Update(path, func(db *users.DB) error {
		if err := db.Add(pos[0], pw, allow); err != nil {
			return err
		}
		return db.SetClass(pos[0], class)
	}); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "Added login %s (%s), allowed to send as %s.\n", pos[0], class, strings.Join(allow, ", "))
	if *gen {
		fmt.Fprintf(e.stdout, "Password (shown once): %s\n", pw)
	}
	notifyRelay(e, cfg)
	return nil
}

func newPassword(e *env, generate bool) (string, error) {
	if generate {
		return users.Generate(), nil
	}
	return readPassword(e)
}

func runUsersList(e *env, args []string) error {
	fs := newFlags(e, "users list")
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	path, _, err := usersFile(e)
	if err != nil {
		return err
	}
	db, err := users.Load(path)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LOGIN\tCLASS\tALLOWED SENDERS")
	for _, u := range db.List() {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", u.Name, u.TrafficClass(), strings.Join(u.Allow, " "))
	}
	return tw.Flush()
}

func runUsersRemove(e *env, args []string) error {
	fs := newFlags(e, "users remove")
	pos, err := parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	path, cfg, err := usersFile(e)
	if err != nil {
		return err
	}
	if err := users.Update(path, func(db *users.DB) error { return db.Remove(pos[0]) }); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "Removed login %s.\n", pos[0])
	notifyRelay(e, cfg)
	return nil
}

func runUsersPasswd(e *env, args []string) error {
	fs := newFlags(e, "users passwd")
	gen := fs.Bool("generate", false, "generate a password and print it once")
	pos, err := parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	path, cfg, err := usersFile(e)
	if err != nil {
		return err
	}
	pw, err := newPassword(e, *gen)
	if err != nil {
		return err
	}
	if err := users.Update(path, func(db *users.DB) error { return db.SetPassword(pos[0], pw) }); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "Password of %s changed.\n", pos[0])
	if *gen {
		fmt.Fprintf(e.stdout, "Password (shown once): %s\n", pw)
	}
	notifyRelay(e, cfg)
	return nil
}

func runUsersClass(e *env, args []string) error {
	fs := newFlags(e, "users class")
	pos, err := parse(fs, args, 2, 2)
	if err != nil {
		return err
	}
	class, err := users.ParseClass(pos[1])
	if err != nil {
		return usagef("users class: %v", err)
	}
	path, cfg, err := usersFile(e)
	if err != nil {
		return err
	}
	if err := users.Update(path, func(db *users.DB) error { return db.SetClass(pos[0], class) }); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "Login %s now sends %s mail; messages queued before keep their class.\n", pos[0], class)
	notifyRelay(e, cfg)
	return nil
}
