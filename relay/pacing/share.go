package pacing

// SetShare makes the pacer keep to its share of the limits when n relays
// of a cluster deliver at once (docs/cluster.md): the rates and the
// connections per provider are divided by n, rounded down but never to
// nothing, so that the limits hold for the cluster as a whole. n < 1 is
// taken as 1, the whole limits.
func (p *Pacer) SetShare(n int) {
	n = max(n, 1)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.base == nil {
		base := p.limits
		p.base = &base
	}
	p.limits.Rate = shareOf(p.base.Rate, n)
	p.limits.BulkRate = shareOf(p.base.BulkRate, n)
	p.limits.Connections = shareOf(p.base.Connections, n)
}

// shareOf is one n-th of a limit; 0 (no limit) stays 0.
func shareOf(limit, n int) int {
	if limit <= 0 {
		return limit
	}
	return max(limit/n, 1)
}
