package queue

import (
	"errors"
	"io/fs"
	"os"
	"sync"
	"time"
)

// DefaultSpares is the number of message files the relay keeps created
// ahead of need (Options.Spares): enough for a burst of sessions between
// two refills, each refill costing one directory fsync.
const DefaultSpares = 32

// spareMaxAge bounds how old a spare may be when a draft takes it: its
// queue ID carries the time it was created, which keeps the folder and the
// logs in arrival order only if that time is close to the arrival.
const spareMaxAge = 5 * time.Second

// spareRetry is how long the pool waits after a failed refill (a full
// disk, a directory that cannot be fsync'd) before it tries again.
const spareRetry = time.Second

// spare is an empty <qid>.msg created ahead of need, held open, whose name
// an fsync of the folder has made durable.
type spare struct {
	id   string
	f    *os.File
	made time.Time
}

// spares keeps a few empty message files ready, so that accepting a
// message neither creates a file nor waits for a directory fsync: a
// background goroutine creates a batch of <qid>.msg files with fresh IDs,
// fsyncs the folder once (group-committed with the other directory
// fsyncs) and only then hands them out. A spare is a file without a
// trailer: a crash leaves it to Open, which removes it as it removes any
// unfinished draft.
type spares struct {
	q    *Queue
	want int

	mu    sync.Mutex
	ready []spare // durable, oldest first
	stale []spare // taken out of ready, to be removed by the goroutine
	names map[string]bool
	// demand: a draft asked for a spare since the last refill. Without
	// it, a refill only removes the stale spares: an idle relay does not
	// fsync its folder every spareMaxAge to renew spares nobody uses.
	demand bool

	kick chan struct{}
	stop chan struct{}
	done chan struct{}
}

func newSpares(q *Queue, want int) *spares {
	p := &spares{
		q:      q,
		want:   want,
		names:  make(map[string]bool),
		demand: true, // fill the pool at the start
		kick:   make(chan struct{}, 1),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	go p.run()
	return p
}

// take hands out the oldest durable spare young enough to name a new
// message, or ok false when there is none.
func (p *spares) take() (s spare, ok bool) {
	p.mu.Lock()
	p.demand = true
	now := p.q.now()
	for len(p.ready) > 0 {
		s = p.ready[0]
		p.ready = p.ready[1:]
		if now.Sub(s.made) <= spareMaxAge {
			ok = true
			delete(p.names, s.id+".msg")
			break
		}
		p.stale = append(p.stale, s)
	}
	low := len(p.ready) <= p.want/2
	p.mu.Unlock()
	if low {
		p.wake()
	}
	return s, ok
}

func (p *spares) wake() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// run refills the pool when it runs low, and throws away spares too old
// to be handed out, until close.
func (p *spares) run() {
	defer close(p.done)
	tick := time.NewTicker(spareMaxAge / 2)
	defer tick.Stop()
	for {
		if err := p.refill(); err != nil {
			// Nothing is handed out that is not durable: drafts
			// create their own file meanwhile, as without a pool,
			// and report the fault (a 4xx reply, logged) if it
			// lasts.
			select {
			case <-p.stop:
				return
			case <-time.After(spareRetry):
			}
			continue
		}
		select {
		case <-p.stop:
			return
		case <-p.kick:
		case <-tick.C:
			p.expire()
		}
	}
}

// expire moves the spares too old to be handed out to the stale list.
func (p *spares) expire() {
	p.mu.Lock()
	now := p.q.now()
	i := 0
	for i < len(p.ready) && now.Sub(p.ready[i].made) > spareMaxAge {
		i++
	}
	p.stale = append(p.stale, p.ready[:i]...)
	p.ready = append(p.ready[:0], p.ready[i:]...)
	p.mu.Unlock()
}

// refill removes the stale spares and, when the pool is at or below half
// of what it wants and drafts asked for spares since the last refill,
// creates the missing ones, fsyncs the folder, and adds them to the pool.
func (p *spares) refill() error {
	p.mu.Lock()
	stale := p.stale
	p.stale = nil
	missing := p.want - len(p.ready)
	if len(p.ready) > p.want/2 || !p.demand {
		missing = 0
	}
	p.demand = false
	p.mu.Unlock()
	// A removal needs no fsync: a spare that a crash brings back has no
	// trailer, and Open removes it.
	p.discard(stale)
	if missing <= 0 {
		return nil
	}
	batch := make([]spare, 0, missing)
	var err error
	for len(batch) < missing && err == nil {
		var s spare
		s, err = p.create()
		if err == nil {
			batch = append(batch, s)
		}
	}
	// Durable names: every spare of the batch was created before this
	// directory fsync began (the syncer runs one that starts after the
	// call), so once it returns nil each name survives a crash.
	if err == nil && len(batch) > 0 {
		if err = p.q.syncer.sync(); err != nil {
			err = storageError("syncing queue directory", err)
		}
	}
	if err != nil {
		p.discard(batch)
		p.mu.Lock()
		p.demand = true // try again after spareRetry
		p.mu.Unlock()
		return err
	}
	p.mu.Lock()
	p.ready = append(p.ready, batch...)
	p.mu.Unlock()
	return nil
}

// create makes one empty <qid>.msg with a fresh queue ID.
func (p *spares) create() (spare, error) {
	for range 3 {
		now := p.q.now()
		id, err := newID(now)
		if err != nil {
			return spare{}, err
		}
		f, err := openFile(p.q.path(id+".msg"), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return spare{}, storageError("creating message file", err)
		}
		p.mu.Lock()
		p.names[id+".msg"] = true
		p.mu.Unlock()
		return spare{id: id, f: f, made: now}, nil
	}
	return spare{}, errors.New("queue: could not pick an unused queue ID")
}

// close stops the goroutine and removes the spares: a clean stop leaves
// no empty files behind.
func (p *spares) close() {
	close(p.stop)
	<-p.done
	p.mu.Lock()
	all := append(p.stale, p.ready...)
	p.stale, p.ready = nil, nil
	p.mu.Unlock()
	p.discard(all)
}

// discard closes and removes spares that will not be handed out.
func (p *spares) discard(list []spare) {
	for _, s := range list {
		s.f.Close()
		os.Remove(s.path(p.q))
		p.mu.Lock()
		delete(p.names, s.id+".msg")
		p.mu.Unlock()
	}
}

// has reports whether name (a file name in the queue folder) is a spare
// the pool made and has not handed out: being made, waiting, or being
// removed.
func (p *spares) has(name string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.names[name]
}

// path is the spare's path in q's folder.
func (s spare) path(q *Queue) string { return q.path(s.id + ".msg") }

// IsSpare reports whether name, a file in the queue folder, is one of the
// empty message files kept ready for the next drafts (Options.Spares), not
// a message: it is not counted, listed or loaded as one.
func (q *Queue) IsSpare(name string) bool {
	return q.spares != nil && q.spares.has(name)
}

// readyLen is how many spares wait to be handed out.
func (p *spares) readyLen() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.ready)
}
