package config

import (
	"log/slog"
	"net/netip"
	"time"
)

// Defaults returns a Config holding every default value. It is the one
// place defaults live: the packages that take a section use what they are
// given.
func Defaults() *Config {
	return &Config{
		DataDir: "data",
		Submission: Submission{
			Listen:         []string{"127.0.0.1:587"},
			TLSCert:        "tls/cert.pem",
			TLSKey:         "tls/key.pem",
			MaxMessageSize: 25 << 20,
			MaxRecipients:  100,
			MaxHeaderSize:  1 << 20,
			MaxConnections: 200,
			CommandTimeout: 5 * time.Minute,
			PreAuthTimeout: time.Minute,

			MaxConnectionsPerIP: 50,
			MaxCommandLength:    2048,
			MaxAuthAttempts:     3,
			AuthMaxFailures:     10,
			AuthFailureWindow:   10 * time.Minute,
			AuthBlock:           15 * time.Minute,
			AuthFailureDelay:    time.Second,
			AuthCacheTTL:        10 * time.Minute,
			TrustedNetworks:     []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")},

			MaxSessionLifetime:    time.Hour,
			MaxMessagesPerSession: 1000,
			MaxPreAuthCommands:    20,
			MaxErrors:             20,
			MaxRepeatedLogLines:   5,
			DuplicateWindow:       10 * time.Minute,
		},
		Delivery: Delivery{
			Mode:           ModeMX,
			Port:           25,
			SPFPolicy:      SPFReject,
			MaxLifetime:    120 * time.Hour,
			RetryMin:       time.Minute,
			RetryMax:       time.Hour,
			Workers:        32,
			MaxPerDomain:   4,
			ConnectTimeout: 30 * time.Second,
			CommandTimeout: 5 * time.Minute,
			// Below the 45s TimeoutStopSec of contrib/systemd, which
			// also covers QUIT to the pooled sessions (up to 10s).
			ShutdownTimeout: 30 * time.Second,

			SuppressAfterBounce: 720 * time.Hour,
			ProviderRate:        60,
			BulkRate:            20,
			ProviderConnections: 8,
			ProviderPause:       time.Minute,
			ProviderPauseMax:    time.Hour,
			MTASTS:              true,
			DANE:                true,
			MTASTSPort:          443,
		},
		DNS: DNS{Timeout: 5 * time.Second},
		Keys: Keys{
			RetireAfter: 168 * time.Hour,
			RotateAfter: 90 * 24 * time.Hour,
			Publish: Publish{
				TSIGAlgorithm: "hmac-sha256",
				TTL:           time.Hour,
				Timeout:       10 * time.Second,
			},
		},
		Log:     Log{Level: slog.LevelInfo},
		Reports: defaultReports(),
		Cluster: defaultCluster(),
	}
}
