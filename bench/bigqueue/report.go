package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Result is the figures of one run, as -json prints them. Times are in
// seconds, counted from the start of the process concerned; memory in MB
// (10^6 bytes).
type Result struct {
	N            int    `json:"n"`
	MessageBytes int    `json:"message_bytes"`
	CPUs         int    `json:"cpus"`
	TmpDir       string `json:"tmp_dir"` // where the queue lived
	// LoadAvg is /proc/loadavg's 1-minute figure before the restart: on
	// a shared machine, other work shows there.
	LoadAvg float64 `json:"load_avg_before_restart"`

	EmptyReadyS float64 `json:"empty_queue_ready_s"` // the first start, for comparison
	CopyS       float64 `json:"copy_s"`              // writing the copies
	SyncS       float64 `json:"sync_s"`              // the one sync(2) after

	// CachedBefore and CachedAgain are the fractions of the queue files'
	// pages in the page cache before each restart (sampled; -1: unknown).
	CachedBefore float64 `json:"cached_before_restart"`
	CachedAgain  float64 `json:"cached_before_second_restart"`
	First        Restart `json:"restart"`        // after writing the copies
	Again        Restart `json:"second_restart"` // at once after the first

	RSSReadyMB  float64 `json:"rss_ready_mb"`      // VmRSS once ready (second restart)
	RSSListedMB float64 `json:"rss_after_list_mb"` // VmRSS after the listings

	ListS            []float64 `json:"queue_list_s"`
	ListMedianS      float64   `json:"queue_list_median_s"`
	Listed           int       `json:"queue_list_messages"`
	ListBytes        int       `json:"queue_list_bytes"`
	SocketFirstByteS float64   `json:"control_socket_first_byte_s"` // queue.list asked without the CLI
	SocketTotalS     float64   `json:"control_socket_total_s"`
	SocketBytes      int64     `json:"control_socket_bytes"`

	Retried            int     `json:"retried"`
	Delivered          int     `json:"delivered"` // delivered events in the relay's log
	DeferredAfterRetry int     `json:"deferred_after_retry"`
	DeliveryS          float64 `json:"delivery_s"`      // retry to the last arrival
	DeliveredPerS      float64 `json:"delivered_per_s"` // N / DeliveryS
	SteadyPerS         float64 `json:"steady_per_s"`    // between the 10% and 90% deliveries (relay log)
	SinkPerS           float64 `json:"sink_first_to_last_per_s"`
	SinkArrived        int     `json:"sink_arrived"`
	SinkVerified       int     `json:"sink_verified"`
	SinkFailed         int     `json:"sink_dkim_failed"`
	SinkUnique         int     `json:"sink_unique_message_ids"` // 1: every copy has the original's Message-ID
	SinkDuplicates     int     `json:"sink_duplicates"`         // so N-1, by relaysink's count
	PeakRSSMB          float64 `json:"peak_rss_mb"`             // VmHWM of the restarted relay, at the end

	ListMet bool `json:"list_met"` // median under 2 s
}

// Restart is one start of the relay on the large queue.
type Restart struct {
	ReadyS      float64 `json:"ready_s"`          // to the 220 greeting
	LoadedLogS  float64 `json:"queue_loaded_s"`   // the queue_loaded event
	StartedLogS float64 `json:"started_logged_s"` // the started event (listening)
	Loaded      int     `json:"queue_loaded"`     // messages, per queue_loaded
	Met         bool    `json:"met"`              // ready under 5 s
}

// judge sets the verdicts against the performance goals (bench/NOTES.md).
func (r *Result) judge() {
	r.CPUs = runtime.NumCPU()
	r.First.Met = r.First.ReadyS < targetReady.Seconds()
	r.Again.Met = r.Again.ReadyS < targetReady.Seconds()
	r.ListMet = r.ListMedianS < targetList.Seconds()
}

func verdict(met bool) string {
	if met {
		return "met"
	}
	return "MISSED"
}

// writeTable prints the figures for a person.
func (r *Result) writeTable(w io.Writer) error {
	fmt.Fprintf(w, "dkimrelay with %d messages waiting (%d-byte messages, destination down; %d CPUs, load average %.2f\nbefore the restart; queue under %s)\n\n", r.N, r.MessageBytes, r.CPUs, r.LoadAvg, r.TmpDir)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "measure\tvalue\ttarget\t")
	for _, rs := range []struct {
		name   string
		cached float64
		r      Restart
	}{{"restart", r.CachedBefore, r.First}, {"restart again at once", r.CachedAgain, r.Again}} {
		fmt.Fprintf(tw, "%s to 220 greeting\t%.2f s\t< %.0f s: %s\t\n", rs.name, rs.r.ReadyS, targetReady.Seconds(), verdict(rs.r.Met))
		fmt.Fprintf(tw, "  queue files in the page cache\t%s\t\t\n", percent(rs.cached))
		fmt.Fprintf(tw, "  queue_loaded (%d messages), started logged\t%.2f s, %.2f s\t\t\n", rs.r.Loaded, rs.r.LoadedLogS, rs.r.StartedLogS)
	}
	fmt.Fprintf(tw, "start with an empty queue, to 220\t%.2f s\t\t\n", r.EmptyReadyS)
	fmt.Fprintf(tw, "queue list --json, median of 3\t%.2f s\t< %.0f s: %s\t\n", r.ListMedianS, targetList.Seconds(), verdict(r.ListMet))
	runs := make([]string, len(r.ListS))
	for i, s := range r.ListS {
		runs[i] = fmt.Sprintf("%.2f", s)
	}
	fmt.Fprintf(tw, "  runs (%d messages, %.1f MB of JSON)\t%s s\t\t\n", r.Listed, float64(r.ListBytes)/1e6, strings.Join(runs, ", "))
	fmt.Fprintf(tw, "  control socket alone: first byte, all\t%.2f s, %.2f s\t\t\n", r.SocketFirstByteS, r.SocketTotalS)
	fmt.Fprintf(tw, "delivered msgs/s (retry to last arrival)\t%.0f\t\t\n", r.DeliveredPerS)
	fmt.Fprintf(tw, "  steady, 10%% to 90%% of deliveries\t%.0f\t\t\n", r.SteadyPerS)
	fmt.Fprintf(tw, "  at the sink, first to last arrival\t%.0f\t\t\n", r.SinkPerS)
	fmt.Fprintf(tw, "  all delivered in\t%.1f s\t\t\n", r.DeliveryS)
	fmt.Fprintf(tw, "peak RSS (VmHWM)\t%.0f MB\t\t\n", r.PeakRSSMB)
	fmt.Fprintf(tw, "  RSS once ready, after the listings\t%.0f MB, %.0f MB\t\t\n", r.RSSReadyMB, r.RSSListedMB)
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\nThe sink got %d messages, %d with every DKIM signature verified, %d failed. The copies share the\n"+
		"original's Message-ID, so relaysink counts %d of them as duplicates: arrivals are counted instead.\n"+
		"Deferred after the retry: %d. Setup: copies written in %.1f s, sync in %.1f s.\n",
		r.SinkArrived, r.SinkVerified, r.SinkFailed, r.SinkDuplicates, r.DeferredAfterRetry, r.CopyS, r.SyncS)
	return err
}

func percent(f float64) string {
	if f < 0 {
		return "unknown"
	}
	return fmt.Sprintf("%.0f%% (sampled)", 100*f)
}

func (r *Result) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// loadAvg reads the 1-minute load average, 0 when unreadable.
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f, _, _ := strings.Cut(string(b), " ")
	v, _ := strconv.ParseFloat(f, 64)
	return v
}
