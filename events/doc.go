// Package events is the relay's event log: one JSON object per line,
// each naming one thing that happened (README.md, "Logs").
//
// Every event's name and field keys are constants here, and each event
// has a typed helper (Delivery, Deferral, Acceptance, ...) whose Log
// method writes it; no other package spells an event by hand. The metrics
// read the records back typed with FromRecord (a delay as a
// time.Duration, not its text), and `dkimrelay logs` reads the written
// lines with the same keys. Names, keys and the meaning of the fields
// never change once logged: administrators' scripts read them.
package events
