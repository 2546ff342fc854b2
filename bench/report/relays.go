package main

// The relays compare.sh measures, in the order tables and the chart show
// them.
var relays = []struct {
	id, name, color string
	signs           bool // every message must arrive with verified signatures
}{
	{"postfix-opendkim", "Postfix + OpenDKIM", "#d62728", true},
	{"postfix", "Postfix, no DKIM", "#7f7f7f", false},
	{"dkimrelay", "dkimrelay", "#1f77b4", true},
	{"maddy", "maddy", "#2ca02c", true},
	// dkimrelay delivering by MX lookups, its delivery features on and
	// off: a section of their own, never in the tables above it.
	{"features-on", "dkimrelay by MX, features on", "#1f77b4", true},
	{"features-off", "dkimrelay by MX, features off", "#9467bd", true},
}

// isFeatures reports whether a relay is one of the features runs'.
func isFeatures(id string) bool { return id == "features-on" || id == "features-off" }

// modeName names a sink mode in titles and the chart's legend.
func modeName(m string) string {
	if m == modePlain {
		return "sink offering no TLS"
	}
	return "sink offering STARTTLS"
}

// inMode returns the cells of one sink mode.
func inMode(cells []Cell, mode string) []Cell {
	var out []Cell
	for _, c := range cells {
		if c.Mode == mode {
			out = append(out, c)
		}
	}
	return out
}

// modesOf lists the sink modes of cells in the report's order.
func modesOf(cells []Cell) []string {
	var modes []string
	for _, m := range []string{modeStartTLS, modePlain} {
		if len(inMode(cells, m)) > 0 {
			modes = append(modes, m)
		}
	}
	return modes
}

// relaySigns reports whether a relay is expected to sign; an unknown one
// is.
func relaySigns(id string) bool {
	if i := relayOrder(id); i < len(relays) {
		return relays[i].signs
	}
	return true
}

func relayOrder(id string) int {
	for i, r := range relays {
		if r.id == id {
			return i
		}
	}
	return len(relays)
}

func relayName(id string) string {
	if i := relayOrder(id); i < len(relays) {
		return relays[i].name
	}
	return id
}
