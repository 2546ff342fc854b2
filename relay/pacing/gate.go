package pacing

import (
	"context"
	"strings"
	"time"
)

// Gate paces the recipients of one message: it groups them by provider
// and asks the Pacer for each group.
type Gate struct {
	Pacer     *Pacer
	Providers *Providers
}

// Admitted recipients go now; their Ticket ends with their outcomes.
type Admitted struct {
	Ticket *Ticket
	Rcpts  []string
}

// Held recipients wait until Until, for the reason Why.
type Held struct {
	Rcpts []string
	Until time.Time
	Why   string
}

// Split decides for each provider among rcpts whether message qid goes to
// it now.
func (g *Gate) Split(ctx context.Context, qid string, rcpts []string, bulk bool) ([]Admitted, []Held) {
	type group struct {
		big   bool
		rcpts []string
	}
	groups := map[string]*group{}
	var order []string
	for _, r := range rcpts {
		domain := r[strings.LastIndexByte(r, '@')+1:]
		name, big := g.Providers.Of(ctx, domain)
		gr, ok := groups[name]
		if !ok {
			gr = &group{big: big}
			groups[name] = gr
			order = append(order, name)
		}
		gr.rcpts = append(gr.rcpts, r)
	}
	g.Pacer.syncPauses(ctx)
	var admitted []Admitted
	var held []Held
	for _, name := range order {
		gr := groups[name]
		t, until, why := g.Pacer.Admit(qid, name, gr.big, bulk)
		if t != nil {
			admitted = append(admitted, Admitted{Ticket: t, Rcpts: gr.rcpts})
		} else {
			held = append(held, Held{Rcpts: gr.rcpts, Until: until, Why: why})
		}
	}
	return admitted, held
}
