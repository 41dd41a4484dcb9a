package conntab

// The timer wheel of a shard: wheelSlots lists of entries, doubly linked
// through wnext/wprev, an entry filed under the slot of the tick it expires
// at. Packets only move Expires; the sweep re-files entries whose time moved
// on, so a refresh costs one store.

func (s *Shard) wheelAddLocked(i uint32, e *Entry) {
	slot := e.Expires & (wheelSlots - 1)
	h := s.wheel[slot]
	e.wprev, e.wnext = 0, h
	if h != 0 {
		s.entry(h).wprev = i
	}
	s.wheel[slot] = i
}

func (s *Shard) wheelDelLocked(i uint32, e *Entry) {
	if e.wprev != 0 {
		s.entry(e.wprev).wnext = e.wnext
	} else {
		// The head of a slot; Expires may have moved since it was filed, so
		// find the slot that points at it.
		for slot := range s.wheel {
			if s.wheel[slot] == i {
				s.wheel[slot] = e.wnext
				break
			}
		}
	}
	if e.wnext != 0 {
		s.entry(e.wnext).wprev = e.wprev
	}
	e.wnext, e.wprev = 0, 0
}

// Expire ends the entries whose time has come by tick now: connections are
// reported to OnExpire and freed; a template that still controls connections
// is re-armed for its timeout (IPVS's ip_vs_conn_expire "expire_later"). Call
// it at least every few ticks; it is safe to call concurrently with lookups.
func (t *Table) Expire(now uint32) {
	for i := range t.shards {
		t.shards[i].expire(now)
	}
}

func (s *Shard) expire(now uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started {
		s.started, s.lastTick = true, now-1
	}
	steps := now - s.lastTick
	if int32(steps) <= 0 {
		return
	}
	if steps > wheelSlots {
		steps = wheelSlots
	}
	for k := uint32(1); k <= steps; k++ {
		slot := (s.lastTick + k) & (wheelSlots - 1)
		// Detach the slot's list; entries not yet due are filed again
		// (possibly in this very slot, a full turn later).
		i := s.wheel[slot]
		s.wheel[slot] = 0
		for i != 0 {
			e := s.entry(i)
			next := e.wnext
			e.wnext, e.wprev = 0, 0
			switch {
			case int32(e.Expires-now) > 0:
				s.wheelAddLocked(i, e)
			case e.Flags&FlagTemplate != 0 && e.nctl.Load() > 0:
				e.Expires = now + max(e.Timeout, 1)
				s.wheelAddLocked(i, e)
			case e.Flags&FlagFast != 0 && s.t.refresh != nil && s.t.refresh(e, now) && int32(e.Expires-now) > 0:
				s.wheelAddLocked(i, e)
			default:
				s.removeDetachedLocked(i, e)
				s.expired.Add(1)
			}
			i = next
		}
	}
	s.lastTick = now
}

// removeDetachedLocked is removeLocked for an entry already off the wheel.
func (s *Shard) removeDetachedLocked(i uint32, e *Entry) {
	if e.Flags&FlagUnhashed == 0 {
		s.unlinkHash(e, s.t.Hash(e.Proto, &e.CAddr, e.CPort))
	}
	if s.t.onExpire != nil {
		s.t.onExpire(e)
	}
	e.Flags = flagFree
	e.hnext, s.free = s.free, i
	s.n--
	s.t.count.Add(-1)
}
