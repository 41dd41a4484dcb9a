package conntab

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"unsafe"
)

const (
	chunkBits  = 10
	chunkSize  = 1 << chunkBits
	wheelBits  = 9
	wheelSlots = 1 << wheelBits
	maxShards  = 256
	// earlyDropScan is how many buckets a full shard searches for a
	// connection it may evict.
	earlyDropScan = 8
)

// Config sizes a Table.
type Config struct {
	// Max bounds the number of entries (default 1<<20).
	Max int
	// Shards is the number of independently locked parts, rounded up to a
	// power of two (default 64, at most 256).
	Shards int
	// OnExpire is called, under the entry's shard lock, for every entry that
	// leaves the table: expired, evicted or flushed. It must not call the
	// Table. It may be nil.
	OnExpire func(e *Entry)
	// Refresh is called, under the entry's shard lock, for a connection
	// marked FlagFast whose time has come; it returns true when it moved
	// Expires later (the connection saw packets the table did not). It
	// must not call the Table. It may be nil.
	Refresh func(e *Entry, now uint32) bool
	// Evictable says whether a connection may be evicted to make room when
	// the table is full; nil means only non-template entries whose state is
	// not TCP ESTABLISHED.
	Evictable func(e *Entry) bool
}

// Stats count a table's life.
type Stats struct {
	// Entries is the number of entries now.
	Entries int
	// Inserted, Expired and Evicted count entries over the table's life;
	// Refused counts inserts refused because the table was full.
	Inserted, Expired, Evicted, Refused uint64
}

// Table is a bounded, sharded connection (or template) table. Its methods
// are safe for concurrent use; an Entry is only touched under its shard's
// lock (Shard.Lock).
type Table struct {
	count     atomic.Int64
	max       int64
	shards    []Shard
	shardBits uint
	seed      uint64
	onExpire  func(e *Entry)
	refresh   func(e *Entry, now uint32) bool
	evictable func(e *Entry) bool
}

// Shard is one independently locked part of a Table.
type Shard struct {
	mu       sync.Mutex
	id       uint32
	buckets  []uint32
	bmask    uint64
	chunks   [][]Entry
	free     uint32
	next     uint32 // next never-used index
	n        int
	wheel    [wheelSlots]uint32
	lastTick uint32
	started  bool
	cursor   uint64 // the next second early-drop window (evictLocked)
	t        *Table

	inserted, expired, evicted, refused atomic.Uint64
	_                                   [64]byte
}

// New returns an empty table.
func New(cfg Config) *Table {
	if cfg.Max <= 0 {
		cfg.Max = 1 << 20
	}
	if cfg.Shards <= 0 {
		cfg.Shards = 64
	}
	cfg.Shards = min(1<<bits.Len(uint(cfg.Shards-1)), maxShards)
	t := &Table{shards: make([]Shard, cfg.Shards), shardBits: uint(bits.TrailingZeros(uint(cfg.Shards))),
		max: int64(cfg.Max), seed: rand.Uint64() | 1, onExpire: cfg.OnExpire, refresh: cfg.Refresh, evictable: cfg.Evictable}
	if t.evictable == nil {
		t.evictable = func(e *Entry) bool {
			return e.Flags&FlagTemplate == 0 && !(e.Proto == 6 && e.State == TCPEstablished)
		}
	}
	per := (cfg.Max + cfg.Shards - 1) / cfg.Shards
	nb := 1 << bits.Len(uint(max(per, 16)-1))
	for i := range t.shards {
		s := &t.shards[i]
		s.id, s.t = uint32(i), t
		s.buckets = make([]uint32, nb)
		s.bmask = uint64(nb - 1)
		s.next = 1 // index 0 is nil
	}
	return t
}

// Hash returns the hash that places a key: it covers only the protocol and
// the client's address and port, so both directions of a connection meet.
func (t *Table) Hash(proto uint8, caddr *[16]byte, cport uint16) uint64 {
	h := t.seed ^ uint64(proto)<<16 ^ uint64(cport)
	h = mix(h ^ binary.LittleEndian.Uint64(caddr[0:8]))
	h = mix(h ^ binary.LittleEndian.Uint64(caddr[8:16]))
	return h
}

func mix(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// Shard returns the shard that holds keys with hash h.
func (t *Table) Shard(h uint64) *Shard {
	return &t.shards[h>>(64-t.shardBits)&(uint64(len(t.shards))-1)]
}

// Lock and Unlock guard the shard's entries.
func (s *Shard) Lock() { s.mu.Lock() }

// Unlock releases the shard.
func (s *Shard) Unlock() { s.mu.Unlock() }

func (s *Shard) entry(i uint32) *Entry { return &s.chunks[i>>chunkBits][i&(chunkSize-1)] }

// FindLocked returns the entry matching k (hash h), or nil.
func (s *Shard) FindLocked(h uint64, k *Key) *Entry {
	for i := s.buckets[h&s.bmask]; i != 0; {
		e := s.entry(i)
		if e.matches(k) {
			return e
		}
		i = e.hnext
	}
	return nil
}

// InsertLocked allocates an entry for hash h, links it for lookup and to
// the timer wheel at expires, and returns it zeroed but for Expires, with its
// Ref. The caller fills the key before unlocking. It returns nil when the
// shard is full and nothing could be evicted.
func (s *Shard) InsertLocked(h uint64, expires uint32) (*Entry, Ref) {
	if s.t.count.Add(1) > s.t.max {
		if !s.evictLocked(h) {
			s.t.count.Add(-1)
			s.refused.Add(1)
			return nil, 0
		}
	}
	var i uint32
	if s.free != 0 {
		i = s.free
		s.free = s.entry(i).hnext
	} else {
		i = s.next
		if int(i>>chunkBits) == len(s.chunks) {
			s.chunks = append(s.chunks, make([]Entry, chunkSize))
		}
		s.next++
	}
	e := s.entry(i)
	e.reset()
	e.Expires = expires
	b := &s.buckets[h&s.bmask]
	e.hnext, *b = *b, i
	s.wheelAddLocked(i, e)
	s.n++
	s.inserted.Add(1)
	return e, Ref(s.id<<24 | i)
}

func (e *Entry) reset() {
	e.CAddr, e.VAddr, e.DAddr = [16]byte{}, [16]byte{}, [16]byte{}
	e.CPort, e.VPort, e.DPort, e.Proto, e.State, e.Flags = 0, 0, 0, 0, 0, 0
	e.Expires, e.Timeout, e.Dest, e.Svc, e.Method, e.Ifx = 0, 0, 0, 0, 0, 0
	e.MAC, e.Pkts, e.Ctl, e.hnext, e.wnext, e.wprev = [6]byte{}, 0, 0, 0, 0, 0
	e.nctl.Store(0)
}

// evictLocked frees one evictable entry found in the buckets from h's on:
// the one whose timer runs out first. New entries sit at the head of their
// bucket, so taking the first evictable one would drop the newest half-open
// connection first — under a SYN flood, a real client's between its SYN and
// its ACK. The entry closest to expiry is, among half-open connections, the
// oldest.
//
// When h's buckets hold nothing evictable, a second window is searched,
// starting where the shard's cursor points; the cursor moves on at every
// use. Without it, a key whose window happens to be empty would be refused
// again and again — the same client's retransmitted SYNs all hash there —
// which a SYN flood filling the table made happen to about one real client
// in a hundred (nf_conntrack's garbage collector plays this part for its
// early_drop).
func (s *Shard) evictLocked(h uint64) bool {
	best, bestE := s.oldestEvictable(h)
	if bestE == nil {
		best, bestE = s.oldestEvictable(s.cursor)
		s.cursor += earlyDropScan
	}
	if bestE == nil {
		return false
	}
	s.removeLocked(best, bestE)
	s.evicted.Add(1)
	return true
}

// oldestEvictable returns the evictable entry closest to expiry in the
// earlyDropScan buckets from from's on, or nil.
func (s *Shard) oldestEvictable(from uint64) (uint32, *Entry) {
	var best uint32
	var bestE *Entry
	for k := range uint64(earlyDropScan) {
		for i := s.buckets[(from+k)&s.bmask]; i != 0; {
			e := s.entry(i)
			if e.Flags&FlagUnhashed == 0 && s.t.evictable(e) &&
				(bestE == nil || int32(e.Expires-bestE.Expires) < 0) {
				best, bestE = i, e
			}
			i = e.hnext
		}
	}
	return best, bestE
}

// UnhashLocked removes e from lookup; it stays allocated until its timer,
// as IPVS leaves an invalidated template that still controls connections.
func (s *Shard) UnhashLocked(e *Entry, h uint64) {
	if e.Flags&FlagUnhashed != 0 {
		return
	}
	s.unlinkHash(e, h)
	e.Flags |= FlagUnhashed
}

func (s *Shard) unlinkHash(e *Entry, h uint64) {
	p := &s.buckets[h&s.bmask]
	for *p != 0 {
		x := s.entry(*p)
		if x == e {
			*p = e.hnext
			return
		}
		p = &x.hnext
	}
}

// RemoveLocked removes e from the table at once, reporting it to OnExpire.
func (s *Shard) RemoveLocked(e *Entry) {
	s.removeLocked(s.indexOf(e), e)
	s.expired.Add(1)
}

// RefLocked returns the reference of an entry of this shard.
func (s *Shard) RefLocked(e *Entry) Ref { return Ref(s.id<<24 | s.indexOf(e)) }

func (s *Shard) indexOf(e *Entry) uint32 {
	p := uintptr(unsafe.Pointer(e))
	for ci, c := range s.chunks {
		base := uintptr(unsafe.Pointer(&c[0]))
		if p >= base && p < base+uintptr(len(c))*unsafe.Sizeof(Entry{}) {
			return uint32(ci)<<chunkBits | uint32((p-base)/unsafe.Sizeof(Entry{}))
		}
	}
	panic("conntab: entry not in its shard")
}

// removeLocked unlinks entry i everywhere, reports it and frees it.
func (s *Shard) removeLocked(i uint32, e *Entry) {
	s.wheelDelLocked(i, e)
	s.removeDetachedLocked(i, e)
}

// Get returns the entry r names and its shard, locked; the caller unlocks.
// It returns nil (and an unlocked shard) for the zero Ref.
func (t *Table) Get(r Ref) (*Shard, *Entry) {
	if r == 0 {
		return nil, nil
	}
	s := &t.shards[r>>24]
	s.mu.Lock()
	return s, s.entry(uint32(r) & (1<<24 - 1))
}

// Hold counts one more connection controlled by the template r. The template
// must be alive (its caller holds it or holds a connection it controls).
func (t *Table) Hold(r Ref) {
	s := &t.shards[r>>24]
	s.entry(uint32(r) & (1<<24 - 1)).nctl.Add(1)
}

// Release counts one connection less controlled by the template r.
func (t *Table) Release(r Ref) {
	if r == 0 {
		return
	}
	s := &t.shards[r>>24]
	s.entry(uint32(r) & (1<<24 - 1)).nctl.Add(-1)
}

// Stats returns the table's counters.
func (t *Table) Stats() Stats {
	var st Stats
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		st.Entries += s.n
		s.mu.Unlock()
		st.Inserted += s.inserted.Load()
		st.Expired += s.expired.Load()
		st.Evicted += s.evicted.Load()
		st.Refused += s.refused.Load()
	}
	return st
}

// Max returns the most entries the table holds.
func (t *Table) Max() int { return int(t.max) }

// Len returns the number of entries.
func (t *Table) Len() int { return t.Stats().Entries }

// Walk calls fn for every live entry, one shard at a time under its lock;
// fn must not call the Table. Walk stops when fn returns false.
func (t *Table) Walk(fn func(e *Entry) bool) {
	for si := range t.shards {
		s := &t.shards[si]
		s.mu.Lock()
		for i := uint32(1); i < s.next; i++ {
			e := s.entry(i)
			if e.Flags&flagFree != 0 {
				continue
			}
			if !fn(e) {
				s.mu.Unlock()
				return
			}
		}
		s.mu.Unlock()
	}
}

// Flush removes every entry, reporting each to OnExpire.
func (t *Table) Flush() {
	for si := range t.shards {
		s := &t.shards[si]
		s.mu.Lock()
		for slot := range s.wheel {
			for s.wheel[slot] != 0 {
				i := s.wheel[slot]
				s.removeLocked(i, s.entry(i))
				s.expired.Add(1)
			}
		}
		s.mu.Unlock()
	}
}

func (s *Shard) String() string { return fmt.Sprintf("shard %d (%d entries)", s.id, s.n) }
