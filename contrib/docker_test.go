package contrib_test

import (
	"bufio"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"dkimrelay/config"
	"dkimrelay/resolver/dnstest"
)

const composePath = "docker-compose.mastodon.yml"

// dockerfile is the final stage of ../Dockerfile: instruction -> the
// arguments of each occurrence.
func dockerfile(t *testing.T) map[string][]string {
	t.Helper()
	b, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var stage map[string][]string
	sc := bufio.NewScanner(strings.NewReader(strings.ReplaceAll(string(b), "\\\n", " ")))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		ins, args, _ := strings.Cut(line, " ")
		ins = strings.ToUpper(ins)
		if ins == "FROM" {
			stage = map[string][]string{}
		}
		stage[ins] = append(stage[ins], strings.TrimSpace(args))
	}
	return stage
}

// execForm parses an exec-form instruction argument: ["a", "b"].
func execForm(t *testing.T, s string) []string {
	t.Helper()
	var out []string
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		t.Fatalf("%q is not in exec form: %v", s, err)
	}
	return out
}

type composeFile struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Networks    []string          `yaml:"networks"`
		Environment map[string]string `yaml:"environment"`
		Volumes     []string          `yaml:"volumes"`
		Healthcheck struct {
			Test []string `yaml:"test"`
		} `yaml:"healthcheck"`
	} `yaml:"services"`
}

var (
	composeRun = regexp.MustCompile(`(?m)^#\s+docker compose run --rm (\S+) (.+)$`)
	envLine    = regexp.MustCompile(`(?m)^#\s+(SMTP_[A-Z_]+)=(\S+)`)
)

func flagValue(args []string, name string) string {
	for i, a := range args {
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// TestDockerAndComposeAgree checks the Dockerfile and the compose service
// against each other and against the binary: the first-run commands the
// compose file gives run as written (flags and all) through the built
// binary, the ports they configure are the image's EXPOSEd ones and the
// ones .env.production names, the config lands on the volume where
// DKIMRELAY_CONFIG points, and the health check has a /healthz to ask.
func TestDockerAndComposeAgree(t *testing.T) {
	df := dockerfile(t)
	for _, ins := range []string{"USER", "ENV", "VOLUME", "EXPOSE", "HEALTHCHECK", "ENTRYPOINT", "CMD"} {
		if len(df[ins]) == 0 {
			t.Fatalf("the Dockerfile's final stage has no %s", ins)
		}
	}
	if u := df["USER"][0]; strings.HasPrefix(u, "0") || strings.HasPrefix(u, "root") {
		t.Errorf("USER %s: the image must not run as root", u)
	}
	volume := execForm(t, df["VOLUME"][0])[0]
	cfgPath := strings.TrimPrefix(df["ENV"][0], "DKIMRELAY_CONFIG=")
	if !strings.HasPrefix(cfgPath, volume+"/") {
		t.Errorf("ENV DKIMRELAY_CONFIG=%s is not on the volume %s", cfgPath, volume)
	}
	entry := execForm(t, df["ENTRYPOINT"][0])
	cmd := execForm(t, df["CMD"][0])
	_, hc, ok := strings.Cut(df["HEALTHCHECK"][0], " CMD ")
	if !ok {
		t.Fatalf("HEALTHCHECK %q has no CMD", df["HEALTHCHECK"][0])
	}
	health := execForm(t, hc)
	var exposed []string
	for _, e := range df["EXPOSE"] {
		exposed = append(exposed, strings.Fields(e)...)
	}

	b, err := os.ReadFile(composePath)
	if err != nil {
		t.Fatal(err)
	}
	var cf composeFile
	if err := yaml.Unmarshal(b, &cf); err != nil {
		t.Fatalf("%s: %v", composePath, err)
	}
	if len(cf.Services) != 1 {
		t.Fatalf("%s: want one service to add, got %d", composePath, len(cf.Services))
	}
	var name string
	for n := range cf.Services {
		name = n
	}
	svc := cf.Services[name]
	if svc.Environment["DKIMRELAY_CONFIG"] != cfgPath {
		t.Errorf("compose DKIMRELAY_CONFIG = %q, the image's is %q", svc.Environment["DKIMRELAY_CONFIG"], cfgPath)
	}
	mounted := false
	for _, v := range svc.Volumes {
		parts := strings.Split(v, ":")
		mounted = mounted || (len(parts) >= 2 && parts[1] == volume)
	}
	if !mounted {
		t.Errorf("compose volumes %v do not mount the image's volume %s", svc.Volumes, volume)
	}
	if len(svc.Healthcheck.Test) > 0 && !slices.Equal(svc.Healthcheck.Test[1:], health) {
		t.Errorf("compose healthcheck %v differs from the image's %v", svc.Healthcheck.Test, health)
	}
	// Mastodon's docker-compose.yml: web and sidekiq on internal_network,
	// the Internet through external_network.
	if !slices.Contains(svc.Networks, "internal_network") || !slices.Contains(svc.Networks, "external_network") {
		t.Errorf("compose networks %v: want internal_network (Mastodon reaches it) and external_network (it reaches MX hosts)", svc.Networks)
	}

	// The first-run commands, run through the binary as written, with the
	// volume in a temporary folder and the key published in a test DNS.
	bin := filepath.Join(t.TempDir(), "dkimrelay")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/dkimrelay").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if entry[0] != "/usr/bin/dkimrelay" || health[0] != entry[0] {
		t.Errorf("ENTRYPOINT %v and HEALTHCHECK %v: want the binary the build stage installs, /usr/bin/dkimrelay", entry, health)
	}
	help, _ := exec.Command(bin, "help").Output()
	for _, c := range [][]string{cmd, health[1:]} {
		if !strings.Contains(string(help), "  "+c[0]+" ") {
			t.Errorf("%q is not a dkimrelay command", c[0])
		}
	}
	dir := t.TempDir()
	dns := dnstest.NewServer(t)
	runs := composeRun.FindAllStringSubmatch(string(b), -1)
	if len(runs) == 0 {
		t.Fatalf("%s gives no `docker compose run` commands", composePath)
	}
	var initArgs, usersArgs []string
	run := func(args []string) string {
		t.Helper()
		c := exec.Command(bin, args...)
		c.Env = append(os.Environ(), "DKIMRELAY_CONFIG="+filepath.Join(dir, strings.TrimPrefix(cfgPath, volume)))
		out, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("dkimrelay %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	for _, m := range runs {
		if m[1] != name {
			t.Errorf("`docker compose run` names service %q, the file defines %q", m[1], name)
		}
		args := strings.Fields(strings.ReplaceAll(m[2], volume, dir))
		switch args[0] {
		case "init":
			initArgs = args
			run(args)
			// Resolve through the test DNS, which publishes the new key.
			cfgFile := filepath.Join(dir, "dkimrelay.toml")
			text, _ := os.ReadFile(cfgFile)
			text = []byte(strings.Replace(string(text), "servers = []", `servers = ["`+dns.Addr()+`"]`, 1))
			if err := os.WriteFile(cfgFile, text, 0o600); err != nil {
				t.Fatal(err)
			}
			var list []struct{ Selector string }
			if err := json.Unmarshal([]byte(run([]string{"keys", "list", "--json"})), &list); err != nil || len(list) != 1 {
				t.Fatalf("keys list after init: %v %v", list, err)
			}
			dns.AddZone(run([]string{"keys", "dns", "--domain", flagValue(args, "--domain"), "--selector", list[0].Selector}))
			for i := range runs {
				runs[i][2] = strings.ReplaceAll(runs[i][2], "SELECTOR", list[0].Selector)
			}
		case "users":
			usersArgs = args
			run(args)
		default:
			run(args)
		}
	}
	if initArgs == nil || usersArgs == nil {
		t.Fatalf("%s lacks the init or users add command", composePath)
	}
	cfg, err := config.Load(filepath.Join(dir, "dkimrelay.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Metrics.Listen == "" {
		t.Error("the config init writes has no metrics.listen: the HEALTHCHECK would have no /healthz to ask")
	}
	if len(cfg.Submission.Listen) != 1 {
		t.Fatalf("init wrote submission.listen %v, want one STARTTLS listener", cfg.Submission.Listen)
	}
	host, port, _ := net.SplitHostPort(cfg.Submission.Listen[0])
	if ip := net.ParseIP(host); ip == nil || !ip.IsUnspecified() {
		t.Errorf("submission.listen %s: other containers cannot reach it; listen on 0.0.0.0", cfg.Submission.Listen[0])
	}
	_, mport, _ := net.SplitHostPort(cfg.Metrics.Listen)
	for _, p := range []string{port, mport} {
		if !slices.Contains(exposed, p) {
			t.Errorf("port %s is not EXPOSEd (%v)", p, exposed)
		}
	}

	env := map[string]string{}
	for _, m := range envLine.FindAllStringSubmatch(string(b), -1) {
		env[m[1]] = m[2]
	}
	from := env["SMTP_FROM_ADDRESS"]
	for key, want := range map[string]string{
		"SMTP_SERVER":          name,
		"SMTP_PORT":            port,
		"SMTP_LOGIN":           usersArgs[2],
		"SMTP_AUTH_METHOD":     "plain",
		"SMTP_ENABLE_STARTTLS": "always",
		"SMTP_FROM_ADDRESS":    flagValue(usersArgs, "--allow"),
	} {
		if env[key] != want {
			t.Errorf(".env.production line %s=%q, want %q", key, env[key], want)
		}
	}
	if !strings.HasSuffix(from, "@"+flagValue(initArgs, "--domain")) {
		t.Errorf("SMTP_FROM_ADDRESS %s is not of the domain init sets up", from)
	}
}
