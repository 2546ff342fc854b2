package queue

import (
	"strings"
	"testing"
	"time"
)

// TestOpenNeedsSchedule: the queue takes its schedule from the loaded
// [delivery] section and has no defaults of its own.
func TestOpenNeedsSchedule(t *testing.T) {
	for name, o := range map[string]Options{
		"no section":      {Dir: queueDir(t)},
		"retry_max < min": {Dir: queueDir(t), Delivery: retrySchedule(time.Hour, time.Minute, time.Hour)},
		"no max_lifetime": {Dir: queueDir(t), Delivery: retrySchedule(time.Minute, time.Hour, 0)},
		"no retry_min":    {Dir: queueDir(t), Delivery: retrySchedule(0, time.Hour, time.Hour)},
	} {
		q, err := Open(o)
		if err == nil {
			q.Close()
			t.Errorf("%s: opened", name)
		} else if !strings.Contains(err.Error(), "[delivery]") {
			t.Errorf("%s: %v does not say what to pass", name, err)
		}
	}
	q := mustOpen(t, Options{Dir: queueDir(t), Delivery: retrySchedule(time.Minute, time.Hour, time.Hour)})
	if q.minRetry != time.Minute || q.maxRetry != time.Hour || q.maxLifetime != time.Hour {
		t.Errorf("schedule %s %s %s", q.minRetry, q.maxRetry, q.maxLifetime)
	}
}
