// Command relaybench is dkimrelay's load generator: it submits N messages
// over C connections (STARTTLS, AUTH PLAIN, each connection reused for
// many messages with RSET between them; with -reconnect, a new connection
// and login for every message, which is what Mastodon's mail gem does) and reports
// accepted messages per second and the time from MAIL FROM to the reply
// after the final dot. It works against any submission server, so the same
// load can be run against Postfix.
//
// The password is read from the environment (RELAYBENCH_PASSWORD), never
// from the command line.
package main

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

func main() {
	addr := flag.String("server", "127.0.0.1:587", "submission server host:port (STARTTLS)")
	user := flag.String("user", "", "AUTH PLAIN login (password in $RELAYBENCH_PASSWORD)")
	from := flag.String("from", "notifications@example.org", "sender (MAIL FROM and From:)")
	to := flag.String("to", "bench@example.net", "recipient")
	n := flag.Int("n", 1000, "messages to send")
	c := flag.Int("c", 8, "concurrent connections")
	size := flag.Int("size", 4096, "approximate message size in bytes")
	rset := flag.Bool("rset", true, "between messages on one connection, EHLO and RSET (go-smtp's client Reset); false: the next MAIL FROM right after the 250 of the last (RFC 5321 section 4.1.1.4), for servers that forget the login at EHLO, as maddy's does")
	reconnect := flag.Bool("reconnect", false, "open a new connection (STARTTLS, AUTH) for every message, as Mastodon does, instead of RSET on one")
	asJSON := flag.Bool("json", false, "print the figures as one JSON object (with the first submission time, for delivered msgs/s)")
	printMessage := flag.Bool("print-message", false, "print one message of -size as it would be sent, and exit (the message bench/signfloor signs)")
	flag.Parse()
	if *n < 1 || *c < 1 || *size < 512 {
		fmt.Fprintln(os.Stderr, "relaybench: -n and -c must be positive and -size at least 512")
		os.Exit(2)
	}
	if *printMessage {
		os.Stdout.Write(Message(*from, *to, 0, 0, *size))
		return
	}
	res, err := Run(Options{Addr: *addr, User: *user, Password: os.Getenv("RELAYBENCH_PASSWORD"), From: *from, To: *to, N: *n, C: *c, Size: *size, Reconnect: *reconnect, NoRSET: !*rset})
	if err != nil {
		fmt.Fprintln(os.Stderr, "relaybench:", err)
		os.Exit(1)
	}
	if *asJSON {
		b, err := json.Marshal(res.Summary())
		if err != nil {
			fmt.Fprintln(os.Stderr, "relaybench:", err)
			os.Exit(1)
		}
		fmt.Println(string(b))
		return
	}
	fmt.Print(res.Report())
}

// Options describe one load run.
type Options struct {
	Addr, User, Password, From, To string
	N, C, Size                     int
	// Reconnect: a new connection and login for every message.
	Reconnect bool
	// NoRSET: on a reused connection, the next MAIL FROM without the
	// client's EHLO and RSET in between.
	NoRSET bool

	onFirst func(time.Time) // called with the time of every worker's first MAIL FROM
}

// Result holds a run's figures.
type Result struct {
	Options
	Sent, Failed int
	Elapsed      time.Duration
	Latencies    []time.Duration // MAIL FROM to the reply after the final dot
	FirstErr     error
	// FirstSubmit is when the first MAIL FROM was sent: delivered msgs/s
	// is N / (last arrival at the sink - FirstSubmit).
	FirstSubmit time.Time
	// LastReply is when the last reply after a final dot arrived.
	LastReply time.Time
}

// Run sends the load and waits for every reply.
func Run(o Options) (*Result, error) {
	var next atomic.Int64
	var mu sync.Mutex
	res := &Result{Options: o}
	var first sync.Once
	o.onFirst = func(t time.Time) { first.Do(func() { res.FirstSubmit = t }) }
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < o.C; i++ {
		wg.Add(1)
		go func(conn int) {
			defer wg.Done()
			lat, sent, last, err := worker(o, conn, &next)
			mu.Lock()
			if last.After(res.LastReply) {
				res.LastReply = last
			}
			res.Latencies = append(res.Latencies, lat...)
			res.Sent += sent
			if err != nil {
				res.Failed++
				if res.FirstErr == nil {
					res.FirstErr = err
				}
			}
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	if res.Sent == 0 && res.FirstErr != nil {
		return nil, res.FirstErr
	}
	return res, nil
}

func worker(o Options, conn int, next *atomic.Int64) (lat []time.Duration, sent int, last time.Time, err error) {
	var c *smtp.Client
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	for {
		i := next.Add(1)
		if i > int64(o.N) {
			break
		}
		if c == nil {
			if c, err = dial(o); err != nil {
				return lat, len(lat), last, err
			}
		}
		msg := Message(o.From, o.To, int(i), conn, o.Size)
		t0 := time.Now()
		if len(lat) == 0 && o.onFirst != nil {
			o.onFirst(t0)
		}
		if err := send(c, o.From, o.To, msg); err != nil {
			return lat, len(lat), last, err
		}
		last = time.Now()
		lat = append(lat, last.Sub(t0))
		switch {
		case o.Reconnect:
			err = c.Quit()
			c = nil
		case !o.NoRSET:
			err = c.Reset()
		}
		if err != nil {
			return lat, len(lat), last, err
		}
	}
	if c != nil {
		c.Quit()
	}
	return lat, len(lat), last, nil
}

// dial opens a session ready for MAIL FROM: STARTTLS, then AUTH PLAIN.
func dial(o Options) (*smtp.Client, error) {
	c, err := smtp.DialStartTLS(o.Addr, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12})
	if err != nil {
		return nil, err
	}
	if o.User != "" {
		if err := c.Auth(sasl.NewPlainClient("", o.User, o.Password)); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

func send(c *smtp.Client, from, to string, msg []byte) error {
	if err := c.Mail(from, nil); err != nil {
		return err
	}
	if err := c.Rcpt(to, nil); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p)
	return sorted[i]
}

// Summary is a run's figures for scripts, times in milliseconds.
type Summary struct {
	Server      string    `json:"server"`
	N           int       `json:"n"`
	C           int       `json:"c"`
	Size        int       `json:"size"`
	Reconnect   bool      `json:"reconnect"`
	Sent        int       `json:"sent"`
	Failed      int       `json:"failed_connections"`
	ElapsedS    float64   `json:"elapsed_s"`
	AcceptedPS  float64   `json:"accepted_per_s"`
	FirstSubmit time.Time `json:"first_submit"`
	LastReply   time.Time `json:"last_reply"`
	P50ms       float64   `json:"p50_ms"`
	P99ms       float64   `json:"p99_ms"`
	Maxms       float64   `json:"max_ms"`
	Error       string    `json:"error,omitempty"`
}

// Summary returns the figures in the form -json prints.
func (r *Result) Summary() Summary {
	l := append([]time.Duration(nil), r.Latencies...)
	sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	s := Summary{
		Server: r.Addr, N: r.N, C: r.C, Size: r.Size, Reconnect: r.Reconnect, Sent: r.Sent, Failed: r.Failed,
		ElapsedS:    r.Elapsed.Seconds(),
		FirstSubmit: r.FirstSubmit, LastReply: r.LastReply,
		P50ms: ms(percentile(l, 0.5)), P99ms: ms(percentile(l, 0.99)), Maxms: ms(percentile(l, 1)),
	}
	if r.Elapsed > 0 {
		s.AcceptedPS = float64(r.Sent) / r.Elapsed.Seconds()
	}
	if r.FirstErr != nil {
		s.Error = r.FirstErr.Error()
	}
	return s
}

// Report formats the figures.
func (r *Result) Report() string {
	l := append([]time.Duration(nil), r.Latencies...)
	sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	s := fmt.Sprintf("sent %d of %d messages of ~%d bytes over %d connections in %s\n", r.Sent, r.N, r.Size, r.C, r.Elapsed.Round(time.Millisecond))
	s += fmt.Sprintf("accepted: %.1f msgs/s\n", float64(r.Sent)/r.Elapsed.Seconds())
	s += fmt.Sprintf("MAIL FROM to 250 after DATA: p50 %s  p99 %s  max %s\n",
		percentile(l, 0.5).Round(10*time.Microsecond), percentile(l, 0.99).Round(10*time.Microsecond), percentile(l, 1).Round(10*time.Microsecond))
	if r.FirstErr != nil {
		var ne net.Error
		kind := "error"
		if errors.As(r.FirstErr, &ne) {
			kind = "network error"
		}
		s += fmt.Sprintf("%d connection(s) ended early; first %s: %v\n", r.Failed, kind, r.FirstErr)
	}
	return s
}
