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
// shard, holding its lock once, and then shrinks the shard if it has
// emptied enough.
func (sh *shard) sweep(now int64, max int) int {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	n := 0
	for n < max && len(sh.expiry) > 0 && sh.expiry[0].expires <= now {
		sh.remove(sh.expiry[0])
		n++
	}
	sh.shrink()
	return n
}

// A shard whose map holds at most 1/shrinkFactor of the records it held at
// its peak is rebuilt, unless that peak was below shrinkMin; the same goes
// for its users.
const (
	shrinkFactor = 4
	shrinkMin    = 64
)

// shrink gives back the memory of records and users that are gone. A Go
// map keeps the size it had at its largest after its entries are deleted,
// and the expiry heap keeps its slice's capacity, so a shard that once held
// many records would hold their memory for ever. When a map has shrunk to
// a quarter of its peak, shrink copies what is left into a new map (and the
// heap into a new slice) and lets the old ones be collected. The copy costs
// what is left, which is at most a third of what was removed since the
// last copy, so sweeping still costs in proportion to what expired. The
// caller holds sh.mu.
func (sh *shard) shrink() {
	if sh.peakRecords >= shrinkMin && len(sh.records) <= sh.peakRecords/shrinkFactor {
		records := make(map[string]*entry, len(sh.records))
		for k, e := range sh.records {
			records[k] = e
		}
		sh.records = records
		// Positions in the heap do not change: the entries' indexes hold.
		expiry := make(expiryHeap, len(sh.expiry))
		copy(expiry, sh.expiry)
		sh.expiry = expiry
		sh.peakRecords = len(records)
	}
	if sh.peakUsers >= shrinkMin && len(sh.users) <= sh.peakUsers/shrinkFactor {
		users := make(map[string]map[*entry]struct{}, len(sh.users))
		for u, set := range sh.users {
			users[u] = set
		}
		sh.users = users
		sh.peakUsers = len(users)
	}
}
