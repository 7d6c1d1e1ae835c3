package memstore

// expiryHeap is a binary min-heap of entries ordered by expiry. Each entry
// knows its position, so a re-saved or deleted record is moved or removed
// in O(log n) without a search.
type expiryHeap []*entry

func (h *expiryHeap) push(e *entry) {
	e.index = len(*h)
	*h = append(*h, e)
	h.up(e.index)
}

// remove takes out the entry at position i.
func (h *expiryHeap) remove(i int) {
	old := *h
	last := len(old) - 1
	if i != last {
		h.swap(i, last)
	}
	old[last] = nil // let the entry be collected
	*h = old[:last]
	if i != last {
		h.fix(i)
	}
}

// fix restores the heap order after the expiry at position i changed.
func (h expiryHeap) fix(i int) {
	if !h.down(i) {
		h.up(i)
	}
}

func (h expiryHeap) up(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if h[parent].expires <= h[i].expires {
			return
		}
		h.swap(i, parent)
		i = parent
	}
}

// down moves the entry at i towards the leaves and says whether it moved.
func (h expiryHeap) down(i int) bool {
	start := i
	for {
		child := 2*i + 1
		if child >= len(h) {
			break
		}
		if right := child + 1; right < len(h) && h[right].expires < h[child].expires {
			child = right
		}
		if h[i].expires <= h[child].expires {
			break
		}
		h.swap(i, child)
		i = child
	}
	return i != start
}

func (h expiryHeap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
