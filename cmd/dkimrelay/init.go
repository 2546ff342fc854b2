package main

import (
	"dkimrelay/cmd/dkimrelay/internal/setup"
	"dkimrelay/keys"
)

func runInit(e *env, args []string) error {
	fs := newFlags(e, "init")
	domain := fs.String("domain", "", "the domain mail is sent from")
	hostname := fs.String("hostname", "", "EHLO name (default mail.DOMAIN)")
	dir := fs.String("dir", ".", "folder for dkimrelay.toml and the data dir")
	listen := fs.String("listen", "127.0.0.1:587", "STARTTLS submission listener")
	listenTLS := fs.String("listen-tls", "", "implicit-TLS submission listener, e.g. 0.0.0.0:465")
	metricsListen := fs.String("metrics-listen", "", "metrics.listen: the status page, /metrics and /healthz, e.g. 127.0.0.1:9187")
	alg := fs.String("algorithm", string(keys.RSA2048), "first key's algorithm: rsa2048, rsa3072, rsa4096 or ed25519")
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	if *domain == "" {
		return usagef("init needs --domain, the domain your application sends from")
	}
	a, err := keys.ParseAlgorithm(*alg)
	if err != nil {
		return usagef("%v", err)
	}
	res, err := setup.Init(setup.Options{Dir: *dir, Domain: *domain, Hostname: *hostname, Listen: *listen, ListenTLS: *listenTLS, MetricsListen: *metricsListen, Algorithm: a})
	if err != nil {
		return err
	}
	return res.WriteSummary(e.stdout)
}
