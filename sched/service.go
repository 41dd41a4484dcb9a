package sched

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures a Service.
type Config struct {
	// Scheduler is the ipvsadm name: rr, wrr, lc, wlc, lblc, lblcr, dh, sh,
	// sed, nq, fo, ovf, mh or twos.
	Scheduler string
	// Flags holds the scheduler flags (FlagSched1..3); see ParseFlags.
	Flags uint32
	// Rand, when set, is the random source of twos (it must be safe for
	// concurrent use when Pick is). Nil means math/rand/v2's runtime
	// generator, which is lock-free per thread.
	Rand func() uint64
	// CacheExpiration is the sysctl lblc_expiration / lblcr_expiration:
	// how long an unused lblc(r) cache entry, or an unchanged lblcr set,
	// lives. Zero means the kernel's default, 24 hours.
	CacheExpiration time.Duration
}

// Errors from the control methods.
var (
	// ErrExists: AddDest of an address and port already in the service.
	ErrExists = errors.New("sched: destination already exists")
	// ErrNotFound: UpdateDest or RemoveDest of a dest not in the service.
	ErrNotFound = errors.New("sched: no such destination")
	// ErrRange: a negative weight, or a lower threshold above the upper.
	ErrRange = errors.New("sched: value out of range")
)

// DestConfig is the editable part of a real server, as ipvsadm -a/-e take it.
type DestConfig struct {
	Addr       netip.Addr
	Port       uint16
	Weight     int32
	UThreshold uint32
	LThreshold uint32
}

// Service is one virtual service's real servers and scheduler. The control
// methods (AddDest, UpdateDest, RemoveDest, SetScheduler, Expire) are
// serialized by a mutex and publish a new copy-on-write table; Pick reads the
// current table with one atomic load and takes no lock, so it runs
// concurrently with them and with itself.
type Service struct {
	mu    sync.Mutex
	cfg   Config
	kind  *kind
	list  []*Dest // kernel order: newest first
	trash []*Dest // removed dests that still have connections
	gen   uint32
	cache *locCache // lblc, lblcr
	// locCap and locNodes size the lblc/lblcr cache: locCapacity entries
	// and twice as many lblcr member nodes, or other sizes in tests.
	locCap, locNodes int

	cur atomic.Pointer[table]
}

// table is an immutable snapshot of the dest list with the scheduler's
// per-snapshot data. Only state (rr, wrr) and the index leaves change.
type table struct {
	gen   uint32
	dests []*Dest
	algo  algo
	idx   index
	cache *locCache // lblc, lblcr: the service's cache, kept across tables

	// rr and wrr keep their position in state; see stateful.go.
	state     atomic.Uint64
	prev      atomic.Pointer[table]
	translate func(uint64) uint64
}

// algo is one scheduler's decision over a table.
type algo interface {
	pick(s *Service, t *table, f *Flow) *Dest
}

// New returns a service with no dests, scheduled by cfg.Scheduler. An
// unknown name wraps ErrUnknownScheduler; a flag the scheduler does not use
// wraps ErrFlag.
func New(cfg Config) (*Service, error) {
	return newService(cfg, locCapacity, 2*locCapacity)
}

func newService(cfg Config, locCap, locNodes int) (*Service, error) {
	kind, err := lookupKind(cfg.Scheduler)
	if err != nil {
		return nil, err
	}
	if err := checkFlags(cfg.Scheduler, cfg.Flags); err != nil {
		return nil, err
	}
	if cfg.CacheExpiration == 0 {
		cfg.CacheExpiration = defaultExpiration
	}
	s := &Service{cfg: cfg, kind: kind, locCap: locCap, locNodes: locNodes}
	if kind.cache != cacheNone {
		s.cache = newLocCache(locCap, locNodes, kind.cache == cacheLBLCR)
	}
	s.publish(change{op: opInit})
	return s, nil
}

// Scheduler returns the scheduler's name.
func (s *Service) Scheduler() string { return s.cfg.Scheduler }

// Flags returns the scheduler flags.
func (s *Service) Flags() uint32 { return s.cfg.Flags }

// SetScheduler changes the scheduler and its flags, keeping the dests and
// their counters, as ipvsadm -E does: the new scheduler starts from its
// initial state (and lblc/lblcr from an empty cache).
func (s *Service) SetScheduler(name string, flags uint32) error {
	kind, err := lookupKind(name)
	if err != nil {
		return err
	}
	if err := checkFlags(name, flags); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cfg.Scheduler, s.cfg.Flags, s.kind = name, flags, kind
	s.cache = nil
	if kind.cache != cacheNone {
		s.cache = newLocCache(s.locCap, s.locNodes, kind.cache == cacheLBLCR)
	}
	s.publishLocked(change{op: opInit})
	return nil
}

// Pick chooses the real server for a new connection, or returns nil when
// none is available. It allocates nothing and takes no lock; f is not
// retained.
func (s *Service) Pick(f *Flow) *Dest {
	t := s.cur.Load()
	return t.algo.pick(s, t, f)
}

// Dests returns the dests in kernel order (the newest first).
func (s *Service) Dests() []*Dest {
	return slices.Clone(s.cur.Load().dests)
}

// Lookup returns the dest with the given address and port, or nil.
func (s *Service) Lookup(addr netip.Addr, port uint16) *Dest {
	for _, d := range s.cur.Load().dests {
		if d.Addr == addr && d.Port == port {
			return d
		}
	}
	return nil
}

func checkDest(c DestConfig) error {
	if c.Weight < 0 {
		return fmt.Errorf("%w: %s: weight %d less than zero", ErrRange, netip.AddrPortFrom(c.Addr, c.Port), c.Weight)
	}
	if c.LThreshold > c.UThreshold {
		return fmt.Errorf("%w: %s: lower threshold %d is higher than upper threshold %d",
			ErrRange, netip.AddrPortFrom(c.Addr, c.Port), c.LThreshold, c.UThreshold)
	}
	if !c.Addr.IsValid() {
		return fmt.Errorf("%w: invalid destination address", ErrRange)
	}
	return nil
}

// AddDest adds a real server at the head of the list (ip_vs_add_dest, then
// the scheduler's add_dest hook). A dest removed earlier whose connections
// are still bound comes back as the same *Dest with its counters, as the
// kernel revives it from its trash.
func (s *Service) AddDest(c DestConfig) (*Dest, error) {
	if err := checkDest(c); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.findLocked(c.Addr, c.Port) >= 0 {
		return nil, fmt.Errorf("%w: %s", ErrExists, netip.AddrPortFrom(c.Addr, c.Port))
	}
	var d *Dest
	s.pruneTrashLocked()
	for i, t := range s.trash {
		if t.Addr == c.Addr && t.Port == c.Port {
			d = t
			s.trash = slices.Delete(s.trash, i, i+1)
			break
		}
	}
	if d == nil {
		d = &Dest{Addr: c.Addr, Port: c.Port, svc: s}
	}
	s.applyLocked(d, c, true)
	s.list = slices.Insert(s.list, 0, d)
	s.publishLocked(change{op: opAdd, pos: 0})
	return d, nil
}

// UpdateDest changes the weight and thresholds of a real server
// (ip_vs_edit_dest, then the scheduler's upd_dest hook).
func (s *Service) UpdateDest(c DestConfig) (*Dest, error) {
	if err := checkDest(c); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.findLocked(c.Addr, c.Port)
	if i < 0 {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, netip.AddrPortFrom(c.Addr, c.Port))
	}
	d := s.list[i]
	s.applyLocked(d, c, false)
	s.publishLocked(change{op: opUpdate, pos: i})
	return d, nil
}

// RemoveDest removes a real server (ip_vs_del_dest, then the scheduler's
// del_dest hook). Connections bound to it keep it and still Unbind from it.
func (s *Service) RemoveDest(addr netip.Addr, port uint16) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.findLocked(addr, port)
	if i < 0 {
		return fmt.Errorf("%w: %s", ErrNotFound, netip.AddrPortFrom(addr, port))
	}
	d := s.list[i]
	d.flags.And(^destAvailable)
	s.list = slices.Delete(s.list, i, i+1)
	s.pruneTrashLocked()
	s.trash = append(s.trash, d)
	s.publishLocked(change{op: opRemove, pos: i})
	return nil
}

func (s *Service) findLocked(addr netip.Addr, port uint16) int {
	for i, d := range s.list {
		if d.Addr == addr && d.Port == port {
			return i
		}
	}
	return -1
}

// pruneTrashLocked forgets removed dests that no connection holds any more.
func (s *Service) pruneTrashLocked() {
	s.trash = slices.DeleteFunc(s.trash, func(d *Dest) bool {
		return d.active.Load() == 0 && d.inactive.Load() == 0 && d.persist.Load() == 0
	})
}

// applyLocked is __ip_vs_update_dest's part that concerns scheduling.
func (s *Service) applyLocked(d *Dest, c DestConfig, add bool) {
	// keep the last_weight with latest non-0 weight
	if add || c.Weight != 0 {
		d.lastWeight.Store(c.Weight)
	}
	d.weight.Store(c.Weight)
	d.flags.Or(destAvailable)
	if c.UThreshold == 0 || c.UThreshold > d.uThreshold.Load() {
		d.flags.And(^destOverload)
	}
	d.uThreshold.Store(c.UThreshold)
	d.lThreshold.Store(c.LThreshold)
}

// Expire runs the lblc/lblcr cache collector, the kernel's periodic timer
// handler (ip_vs_lblc_check_expire): the owner calls it every
// ExpireInterval with the same clock as Flow.Now. It runs at most once per
// ExpireInterval of that clock (the first call runs), so calling it more
// often keeps the kernel's period. Other schedulers ignore it.
func (s *Service) Expire(now time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cache != nil {
		s.cache.checkExpire(now, s.cfg.CacheExpiration)
	}
}

type changeOp uint8

const (
	opInit changeOp = iota
	opAdd
	opUpdate
	opRemove
)

// change says which hook the kernel runs: init_service, add_dest (the new
// dest is at pos 0), upd_dest or del_dest (of the dest that was at pos).
type change struct {
	op  changeOp
	pos int
}

func (s *Service) publish(c change) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.publishLocked(c)
}

// publishLocked builds the table for the current list, publishes it and
// hands over the scheduler state of the previous one.
func (s *Service) publishLocked(c change) {
	if len(s.list) >= math.MaxInt32 {
		panic("sched: too many destinations")
	}
	prev := s.cur.Load()
	s.gen++
	t := &table{gen: s.gen, dests: slices.Clone(s.list), cache: s.cache}
	for i, d := range t.dests {
		d.pos[t.gen&1].Store(uint64(t.gen)<<32 | uint64(i))
	}
	s.kind.build(s, t, prev, c)
	stateful := t.translate != nil
	if stateful {
		if prev == nil || prev.translate == nil || c.op == opInit {
			t.state.Store(t.translate(stInit))
			stateful = false
		} else {
			t.state.Store(stPending)
			t.prev.Store(prev)
		}
	}
	s.cur.Store(t)
	if prev != nil && prev.translate != nil {
		freeze(prev)
	}
	if stateful {
		resolve(t)
	}
	// Counter changes that raced with the build went to the old table.
	if t.idx != nil {
		for i := range t.dests {
			t.idx.sync(t, i)
		}
	}
}
