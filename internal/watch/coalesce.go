package watch

import "sync"

// Coalescer runs at most one job per service at a time and queues at most one more:
// ChangeSets arriving while a service is busy are merged into a single pending
// ChangeSet, started when the running job is Done. "A change during a build queues
// exactly one more build." The zero value is ready; it is safe for concurrent use.
type Coalescer struct {
	mu     sync.Mutex
	busy   map[string]bool
	queued map[string]ChangeSet
}

// Offer submits cs. When its service is idle, the service becomes busy and Offer
// returns (cs, true): the caller starts the job. Otherwise cs is merged into the
// service's queued ChangeSet and Offer returns false.
func (c *Coalescer) Offer(cs ChangeSet) (ChangeSet, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.busy == nil {
		c.busy, c.queued = map[string]bool{}, map[string]ChangeSet{}
	}
	if !c.busy[cs.Service] {
		c.busy[cs.Service] = true
		return cs, true
	}
	if q, ok := c.queued[cs.Service]; ok {
		cs = q.Merge(cs)
	}
	c.queued[cs.Service] = cs
	return ChangeSet{}, false
}

// Done reports that the service's job finished. When changes were queued meanwhile it
// returns their merged ChangeSet and true: the service stays busy and the caller starts
// exactly one more job. Otherwise the service becomes idle.
func (c *Coalescer) Done(service string) (ChangeSet, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if q, ok := c.queued[service]; ok {
		delete(c.queued, service)
		return q, true
	}
	delete(c.busy, service)
	return ChangeSet{}, false
}

// Busy reports whether a job runs for service.
func (c *Coalescer) Busy(service string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.busy[service]
}

// Queued reports whether a ChangeSet waits for service.
func (c *Coalescer) Queued(service string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.queued[service]
	return ok
}

// Forget drops the queued ChangeSet of service (removed from the project); a running
// job's Done then makes it idle.
func (c *Coalescer) Forget(service string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.queued, service)
}
