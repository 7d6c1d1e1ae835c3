package memstore

// sweepBatch is how many expired records the sweeper removes from a shard
// before it lets the shard's readers and writers in again.
const sweepBatch = 1024

// sweep removes every record that expired at or before now and returns
// how many it removed. It looks only at the top of each shard's heap, so it
// costs what expired, not what is stored.
func (s *Store) sweep(now int64) int {
	removed := 0
	for i := range s.shards {
		sh := &s.shards[i]
		for {
			n := sh.sweep(now, sweepBatch)
			removed += n
			if n < sweepBatch {
				break
			}
		}
	}
	return removed
}

// sweep removes at most max records that expired at or before now from the
// shard, holding its lock once.
func (sh *shard) sweep(now int64, max int) int {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	n := 0
	for n < max && len(sh.expiry) > 0 && sh.expiry[0].expires <= now {
		sh.remove(sh.expiry[0])
		n++
	}
	return n
}
