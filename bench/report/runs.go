package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"time"
)

// The three files one run leaves in the raw folder, named
// RELAY_MODE_cC_sSIZE_rROUND.{bench,sink,proc}.json by bench/compare.sh
// (MODE the sink's: starttls or plain; raw folders from before the plain
// mode have no MODE, and their sink offered STARTTLS), with _reconnect
// after the round for a run of relaybench -reconnect.
type benchFile struct { // relaybench -json
	N    int `json:"n"`
	C    int `json:"c"`
	Size int `json:"size"`
	// Reconnect is absent from the files of relaybench before -reconnect
	// existed, which reused connections.
	Reconnect   *bool     `json:"reconnect"`
	Sent        int       `json:"sent"`
	AcceptedPS  float64   `json:"accepted_per_s"`
	FirstSubmit time.Time `json:"first_submit"`
	P50ms       float64   `json:"p50_ms"`
	P99ms       float64   `json:"p99_ms"`
	Maxms       float64   `json:"max_ms"`
	Error       string    `json:"error"`
}

type sinkFile struct { // relaysink -out
	Arrived     int       `json:"arrived"`
	Unique      int       `json:"unique"`
	Verified    int       `json:"verified"`
	Failed      int       `json:"dkim_failed"`
	Unsigned    int       `json:"unsigned"`
	Signatures  int       `json:"signatures"`
	Connections int       `json:"connections"`
	TLSSessions int       `json:"tls_sessions"`
	Last        time.Time `json:"last_arrival"`
}

type procFile struct { // procmon -out
	CPUSeconds   float64 `json:"cpu_seconds"`
	PeakRSSBytes int64   `json:"peak_rss_bytes"`
	PeakPSSBytes int64   `json:"peak_pss_bytes"`
	PeakProcs    int     `json:"peak_procs"`
}

// Run is one measured run, as results.json records it.
type Run struct {
	Relay string `json:"relay"`
	// Mode is the sink's: "starttls" (it offers STARTTLS) or "plain" (it
	// offers none).
	Mode  string `json:"sink_mode"`
	C     int    `json:"c"`
	Size  int    `json:"size"`
	Round int    `json:"round"`
	// Reconnect: a new connection, STARTTLS and AUTH for every message
	// (relaybench -reconnect), as Mastodon sends; otherwise one connection
	// per client, reused with RSET.
	Reconnect bool `json:"reconnect"`

	N           int     `json:"n"`
	Delivered   int     `json:"delivered"`       // distinct messages at the sink
	Verified    int     `json:"dkim_verified"`   // with every signature verified
	Signatures  int     `json:"signatures"`      // checked at the sink
	DeliveredPS float64 `json:"delivered_per_s"` // N / (last arrival - first submit)
	AcceptedPS  float64 `json:"accepted_per_s"`
	P50ms       float64 `json:"p50_ms"`
	P99ms       float64 `json:"p99_ms"`
	Maxms       float64 `json:"max_ms"`
	CPUmsPerMsg float64 `json:"cpu_ms_per_msg"`
	PeakRSSMB   float64 `json:"peak_rss_mb"`
	PeakPSSMB   float64 `json:"peak_pss_mb"`
	PeakProcs   int     `json:"peak_procs"`
	ConnsPer100 float64 `json:"sink_connections_per_100_msgs"`
	Error       string  `json:"error,omitempty"`
}

var runName = regexp.MustCompile(`^([a-z0-9-]+?)(?:_(starttls|plain))?_c([0-9]+)_s([0-9]+)_r([0-9]+)(_reconnect)?\.bench\.json$`)

// The sink modes, in the order the report shows them.
const (
	modeStartTLS = "starttls"
	modePlain    = "plain"
)

func modeOrder(m string) int {
	if m == modePlain {
		return 1
	}
	return 0
}

// loadRuns reads every run in dir.
func loadRuns(dir string) ([]Run, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var runs []Run
	for _, e := range ents {
		m := runName.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		base := filepath.Join(dir, e.Name()[:len(e.Name())-len(".bench.json")])
		var b benchFile
		var s sinkFile
		var p procFile
		for _, f := range []struct {
			ext string
			v   any
		}{{".bench.json", &b}, {".sink.json", &s}, {".proc.json", &p}} {
			data, err := os.ReadFile(base + f.ext)
			if err != nil {
				return nil, fmt.Errorf("run %s: %w", filepath.Base(base), err)
			}
			if err := json.Unmarshal(data, f.v); err != nil {
				return nil, fmt.Errorf("%s%s: %w", base, f.ext, err)
			}
		}
		r := Run{Relay: m[1], Mode: cmp.Or(m[2], modeStartTLS), Reconnect: m[6] != ""}
		r.C, _ = strconv.Atoi(m[3])
		r.Size, _ = strconv.Atoi(m[4])
		r.Round, _ = strconv.Atoi(m[5])
		// A run filed under the other pattern would mix the two in one
		// table: that is the script's mistake, not a measurement.
		if b.Reconnect != nil && *b.Reconnect != r.Reconnect {
			return nil, fmt.Errorf("%s.bench.json: relaybench ran with reconnect=%t, but the file name says %t", base, *b.Reconnect, r.Reconnect)
		}
		r.N, r.Delivered, r.Verified, r.Signatures = b.N, s.Unique, s.Verified, s.Signatures
		r.AcceptedPS, r.P50ms, r.P99ms, r.Maxms = b.AcceptedPS, b.P50ms, b.P99ms, b.Maxms
		r.Error = b.Error
		if el := s.Last.Sub(b.FirstSubmit).Seconds(); el > 0 && s.Unique > 0 {
			r.DeliveredPS = float64(s.Unique) / el
		}
		if b.N > 0 {
			r.CPUmsPerMsg = p.CPUSeconds * 1000 / float64(b.N)
			r.ConnsPer100 = float64(s.Connections) * 100 / float64(b.N)
		}
		r.PeakRSSMB = float64(p.PeakRSSBytes) / (1 << 20)
		r.PeakPSSMB = float64(p.PeakPSSBytes) / (1 << 20)
		r.PeakProcs = p.PeakProcs
		if r.Delivered < r.N && r.Error == "" {
			r.Error = fmt.Sprintf("only %d of %d messages reached the sink", r.Delivered, r.N)
		}
		switch {
		case r.Error != "":
		case s.Failed > 0:
			r.Error = fmt.Sprintf("%d of %d messages failed DKIM verification", s.Failed, s.Arrived)
		case s.Unsigned > 0 && relaySigns(r.Relay):
			r.Error = fmt.Sprintf("%d of %d messages arrived unsigned", s.Unsigned, s.Arrived)
		}
		runs = append(runs, r)
	}
	if len(runs) == 0 {
		return nil, fmt.Errorf("no runs (RELAY_MODE_cC_sSIZE_rROUND[_reconnect].bench.json) in %s", dir)
	}
	sort.Slice(runs, func(i, j int) bool {
		a, b := runs[i], runs[j]
		return cmp.Or(compareGroups(a.key(), b.key()), cmp.Compare(a.Round, b.Round),
			cmp.Compare(relayOrder(a.Relay), relayOrder(b.Relay))) < 0
	})
	return runs, nil
}

// cellKey names a cell: a relay at one sink mode, concurrency, size and
// connection pattern.
type cellKey struct {
	relay     string
	mode      string
	c, size   int
	reconnect bool
}

func (r Run) key() cellKey { return cellKey{r.Relay, r.Mode, r.C, r.Size, r.Reconnect} }

// compareGroups orders the report's sections and rows: reused connections
// first, then by size, then by sink mode, then by concurrency. The relays'
// order comes after it.
func compareGroups(a, b cellKey) int {
	if a.reconnect != b.reconnect {
		if !a.reconnect {
			return -1
		}
		return 1
	}
	return cmp.Or(cmp.Compare(a.size, b.size), cmp.Compare(modeOrder(a.mode), modeOrder(b.mode)), cmp.Compare(a.c, b.c))
}

// Cell is the median of a relay's runs at one concurrency, size and
// connection pattern.
type Cell struct {
	Relay       string  `json:"relay"`
	Mode        string  `json:"sink_mode"`
	C           int     `json:"c"`
	Size        int     `json:"size"`
	Reconnect   bool    `json:"reconnect"`
	Rounds      int     `json:"rounds"`
	Failed      int     `json:"failed_runs"`
	DeliveredPS float64 `json:"delivered_per_s"`
	AcceptedPS  float64 `json:"accepted_per_s"`
	P50ms       float64 `json:"p50_ms"`
	P99ms       float64 `json:"p99_ms"`
	// P99Min and P99Max are the lowest and highest p99 of the successful
	// rounds: a latency target holds in every round or not.
	P99Min      float64 `json:"p99_min_ms"`
	P99Max      float64 `json:"p99_max_ms"`
	CPUmsPerMsg float64 `json:"cpu_ms_per_msg"`
	PeakRSSMB   float64 `json:"peak_rss_mb"`
	PeakPSSMB   float64 `json:"peak_pss_mb"`
	ConnsPer100 float64 `json:"sink_connections_per_100_msgs"`
	SigsPerMsg  float64 `json:"signatures_per_msg"`
}

// medians groups runs by relay, concurrency, size and connection pattern,
// the reused connections first. A failed run (not every message delivered
// and verified) is counted, not averaged in.
func medians(runs []Run) []Cell {
	groups := map[cellKey][]Run{}
	var order []cellKey
	for _, r := range runs {
		k := r.key()
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], r)
	}
	sort.Slice(order, func(i, j int) bool {
		a, b := order[i], order[j]
		return cmp.Or(compareGroups(a, b), cmp.Compare(relayOrder(a.relay), relayOrder(b.relay))) < 0
	})
	var cells []Cell
	for _, k := range order {
		c := Cell{Relay: k.relay, Mode: k.mode, C: k.c, Size: k.size, Reconnect: k.reconnect, Rounds: len(groups[k])}
		var ok []Run
		for _, r := range groups[k] {
			if r.Error != "" {
				c.Failed++
				continue
			}
			ok = append(ok, r)
		}
		med := func(f func(Run) float64) float64 {
			v := make([]float64, len(ok))
			for i, r := range ok {
				v[i] = f(r)
			}
			return median(v)
		}
		c.DeliveredPS = med(func(r Run) float64 { return r.DeliveredPS })
		c.AcceptedPS = med(func(r Run) float64 { return r.AcceptedPS })
		c.P50ms = med(func(r Run) float64 { return r.P50ms })
		c.P99ms = med(func(r Run) float64 { return r.P99ms })
		for i, r := range ok {
			if i == 0 || r.P99ms < c.P99Min {
				c.P99Min = r.P99ms
			}
			c.P99Max = max(c.P99Max, r.P99ms)
		}
		c.CPUmsPerMsg = med(func(r Run) float64 { return r.CPUmsPerMsg })
		c.PeakRSSMB = med(func(r Run) float64 { return r.PeakRSSMB })
		c.PeakPSSMB = med(func(r Run) float64 { return r.PeakPSSMB })
		c.ConnsPer100 = med(func(r Run) float64 { return r.ConnsPer100 })
		c.SigsPerMsg = med(func(r Run) float64 {
			if r.Delivered == 0 {
				return 0
			}
			return float64(r.Signatures) / float64(r.Delivered)
		})
		cells = append(cells, c)
	}
	return cells
}

// median of v; 0 when v is empty (the cell then shows its failed runs).
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
