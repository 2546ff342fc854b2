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
