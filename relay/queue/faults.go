package queue

// SetFaultHook installs fn, called before each write ("write"), file fsync
// ("sync") and directory fsync ("dirsync") of the queue with the path
// concerned; an error fn returns is taken as the operation's (return an
// *os.PathError wrapping syscall.ENOSPC for a full disk). It is the file
// system seam of the fault tests of the packages above the queue, which
// cannot fill a real disk portably. It may be called at any time (the
// pool of spare message files works in the background from Open on); nil
// removes the hook. The relay itself never calls it.
func (q *Queue) SetFaultHook(fn func(op, path string) error) {
	if fn == nil {
		q.fault.Store(nil)
		return
	}
	q.fault.Store(&fn)
}
