package importer

import "time"

func time2026() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }
