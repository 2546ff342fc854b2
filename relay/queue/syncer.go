package queue

import "sync"

// dirSyncer group-commits directory fsyncs.
//
// A rename is durable once an fsync of its directory that *started after
// the rename* has returned: fsync(2) on a directory writes every change to
// that directory made before the call. So a caller that has just renamed
// its <qid>.json into place does not need an fsync of its own; it needs
// the next fsync that starts after it arrives. Callers arriving while an
// fsync is running all wait for the following one, which one of them
// (the leader) runs on behalf of everyone; the rest (followers) just wait
// for it to finish. With many sessions committing at once this turns N
// fsyncs into about two, and a lone caller pays exactly one, with no
// timer or added latency.
//
// Generations number the fsyncs: a caller arriving when `started` fsyncs
// have begun needs generation started+1, which by construction begins
// after its arrival (hence after its rename). An error fails every caller
// whose generation, or a later one it observed, failed: being
// conservative costs a 4xx reply, being optimistic could cost a message.
type dirSyncer struct {
	fsync func() error

	mu      sync.Mutex
	cond    sync.Cond
	running bool
	started uint64 // generations begun
	done    uint64 // generations finished
	failGen uint64 // most recent generation that failed
	failErr error
}

func newDirSyncer(fsync func() error) *dirSyncer {
	s := &dirSyncer{fsync: fsync}
	s.cond.L = &s.mu
	return s
}

// sync returns once every directory change the caller made before calling
// it is durable.
func (s *dirSyncer) sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	need := s.started + 1
	for s.done < need {
		if s.running {
			s.cond.Wait()
			continue
		}
		// Lead: no fsync is running, so the next one starts now, after
		// this caller's changes and those of every waiting follower.
		s.running = true
		s.started++
		gen := s.started
		s.mu.Unlock()
		err := s.fsync()
		s.mu.Lock()
		s.running = false
		s.done = gen
		if err != nil {
			s.failGen, s.failErr = gen, err
		}
		s.cond.Broadcast()
	}
	if s.failGen >= need {
		return s.failErr
	}
	return nil
}
