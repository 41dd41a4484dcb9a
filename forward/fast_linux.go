package forward

import (
	"cmp"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/ulvs/ulvs/forward/conntab"
	"github.com/ulvs/ulvs/forward/xsk"
)

// fastFlows is the size of each XDP program's fast-path flow table (an LRU
// table: a connection whose flow is evicted from it takes the socket path
// for the rest of its life; nothing puts it back).
const fastFlows = 1 << 18

// xdpFast is the fast path over the interfaces' XDP programs.
type xdpFast struct {
	e *engine
	// progs are the XDP programs by interface slot (nil: that interface
	// runs AF_PACKET).
	progs []*xsk.Program

	mu sync.Mutex
	// reals are the real-server handles that have had a fast-path
	// connection: the next hop written to the program and the counts
	// already added to statistics. By handle, as the program keys them:
	// UpdateReal and a revival replace a handle's *real, and its flows stay.
	reals map[uint32]*fastReal
	// queues hold each worker's connections added since its last commit;
	// only that worker touches its queue.
	queues []fastQueue
	// failed counts map updates that failed; lastErr is the last one.
	failed  atomic.Uint64
	lastErr atomic.Pointer[error]
}

type fastReal struct {
	// r is the real server the handle named at the last look: its
	// statistics get the counts.
	r   *real
	hop *hop
	// prog is the program whose reals map holds hop.
	prog *xsk.Program
	// counted is what the programs had forwarded at the last look.
	counted xsk.RealCount
}

// fastQueue is a worker's connections added to the fast path that their
// programs have not been given yet.
type fastQueue struct {
	items []fastQueued
	// flows is AddFlows' argument, kept for the next commit.
	flows []xsk.Flow
}

type fastQueued struct {
	prog *xsk.Program
	flow xsk.Flow
	key  conntab.Key
	// held is set once the program has the flow.
	held bool
}

var _ fastPath = (*xdpFast)(nil)

func (f *xdpFast) fail(err error) {
	f.failed.Add(1)
	f.lastErr.Store(&err)
}

func (f *xdpFast) prog(e *conntab.Entry) *xsk.Program {
	if int(e.Ifx) < len(f.progs) {
		return f.progs[e.Ifx]
	}
	return nil
}

// flow describes connection e to the program (DR or NAT).
func (f *xdpFast) flow(e *conntab.Entry) xsk.Flow {
	fl := xsk.Flow{Key: xsk.NewFlowKey(e.CAddr, e.VAddr, e.CPort, e.VPort, e.Proto), Real: e.Dest}
	if Method(e.Method) == NAT {
		fl.NAT, fl.RAddr, fl.RPort, fl.ClientMAC = true, e.DAddr, e.DPort, e.MAC
		if int(e.Ifx) < len(f.e.ifaces) {
			fl.IfaceMAC = f.e.ifaces[e.Ifx].mac
		}
	}
	return fl
}

// counts sums a real server's fast-path counts over the programs.
func (f *xdpFast) counts(h uint32) xsk.RealCount {
	var sum xsk.RealCount
	for _, p := range f.progs {
		if p == nil {
			continue
		}
		c, err := p.RealCounts(h)
		if err != nil {
			f.fail(err)
			continue
		}
		sum.Add(c)
	}
	return sum
}

func (f *xdpFast) add(wid int, e *conntab.Entry, r *real) bool {
	p := f.prog(e)
	if p == nil || r.handle >= xsk.MaxReals {
		return false
	}
	hp := r.hop.Load()
	if hp == nil || hp.local || hp.ifindex != p.Ifindex() {
		// XDP_TX leaves by the interface the frame came in on: the real
		// server (and a NAT connection's client) must be behind it.
		return false
	}
	if Method(e.Method) == NAT && e.MAC == ([6]byte{}) {
		return false // synced, the client's next hop not yet known
	}
	f.mu.Lock()
	fr := f.reals[r.handle]
	if fr == nil {
		// The handle's counts so far belong to real servers that had it
		// before (none of whose connections is left): the baseline.
		fr = &fastReal{counted: f.counts(r.handle)}
		f.reals[r.handle] = fr
	}
	fr.r = r
	if fr.hop != hp || fr.prog != p {
		if err := p.SetReal(r.handle, xsk.Hop{Ifindex: hp.ifindex, Dst: hp.dstMAC, Src: hp.srcMAC}); err != nil {
			f.mu.Unlock()
			f.fail(err)
			return false
		}
		fr.hop, fr.prog = hp, p
	}
	f.mu.Unlock()
	q := &f.queues[wid]
	q.items = append(q.items, fastQueued{prog: p, flow: f.flow(e), key: e.InKey()})
	return true
}

func (f *xdpFast) commit(wid int) {
	q := &f.queues[wid]
	if len(q.items) == 0 {
		return
	}
	// Each program's flows in one call: the queue in runs by program
	// (usually one run: a worker serves one interface).
	slices.SortStableFunc(q.items, func(a, b fastQueued) int { return cmp.Compare(a.prog.Ifindex(), b.prog.Ifindex()) })
	for run := q.items; len(run) > 0; {
		n := 1
		for n < len(run) && run[n].prog == run[0].prog {
			n++
		}
		q.flows = q.flows[:0]
		for i := range run[:n] {
			q.flows = append(q.flows, run[i].flow)
		}
		held, err := run[0].prog.AddFlows(q.flows)
		if err != nil {
			f.fail(err)
		}
		for i := range run[:held] {
			run[i].held = true
		}
		run = run[n:]
	}
	// What changed while queued: a connection the engine took off (a FIN,
	// its expiry) before its flow went in must not stay in the program;
	// one whose flow could not go in takes the socket path, and its next
	// packet may try again.
	for i := range q.items {
		it := &q.items[i]
		h := f.e.conns.Hash(it.key.Proto, &it.key.CAddr, it.key.CPort)
		sh := f.e.conns.Shard(h)
		sh.Lock()
		e := sh.FindLocked(h, &it.key)
		fast := e != nil && e.Flags&conntab.FlagFast != 0 && e.Dest == it.flow.Real
		if fast && !it.held {
			e.Flags &^= conntab.FlagFast
		}
		sh.Unlock()
		if it.held && !fast {
			if err := it.prog.DeleteFlow(&it.flow); err != nil {
				f.fail(err)
			}
		}
	}
	clear(q.items)
	q.items = q.items[:0]
}

func (f *xdpFast) retire(r *real) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if fr := f.reals[r.handle]; fr != nil && fr.hop != nil {
		if err := fr.prog.SetReal(r.handle, xsk.Hop{}); err != nil {
			f.fail(err)
			return
		}
		fr.hop = nil
	}
}

func (f *xdpFast) del(e *conntab.Entry) {
	if p := f.prog(e); p != nil {
		fl := f.flow(e)
		if err := p.DeleteFlow(&fl); err != nil {
			f.fail(err)
		}
	}
}

func (f *xdpFast) seen(e *conntab.Entry) (time.Duration, bool) {
	p := f.prog(e)
	if p == nil {
		return 0, false
	}
	fl := f.flow(e)
	at, ok := p.FlowSeen(&fl)
	if !ok {
		return 0, false
	}
	now := xsk.Monotonic()
	if at > now {
		return 0, true
	}
	return time.Duration(now - at), true
}

// housekeep adds what the programs forwarded to the real servers' and
// services' statistics, follows next-hop changes, and forgets real servers
// whose handles were recycled.
func (f *xdpFast) housekeep() {
	snap := f.e.reg.load()
	f.mu.Lock()
	defer f.mu.Unlock()
	for h, fr := range f.reals {
		c := f.counts(h)
		d := c.Since(fr.counted)
		last := len(fr.r.stats) - 1
		sets := []*counters{&fr.r.stats[last]}
		if fr.r.svc != nil {
			sets = append(sets, &fr.r.svc.stats[last])
		}
		for _, cs := range sets {
			cs.add(true, d.Pkts, d.Bytes)
			cs.add(false, d.OutPkts, d.OutBytes)
		}
		fr.counted = c
		r := snap.real(h)
		if r == nil {
			// Recycled: no connection refers to it, so no flow does.
			delete(f.reals, h)
			continue
		}
		fr.r = r
		hp := r.hop.Load()
		if !r.dest.Available() {
			hp = nil // removed: retire took it off
		}
		if hp == fr.hop {
			continue
		}
		// The next hop changed: the program follows, or sends the real
		// server's flows to the socket when it is no longer reachable
		// from the interface they arrive on.
		var err error
		if hp != nil && !hp.local && hp.ifindex == fr.prog.Ifindex() {
			err = fr.prog.SetReal(h, xsk.Hop{Ifindex: hp.ifindex, Dst: hp.dstMAC, Src: hp.srcMAC})
		} else {
			err = fr.prog.SetReal(h, xsk.Hop{})
		}
		if err != nil {
			f.fail(err)
			continue
		}
		fr.hop = hp
	}
	if n := f.failed.Load(); n > 0 {
		if p := f.lastErr.Swap(nil); p != nil {
			f.e.log.Warn("XDP fast path: map updates failed; their connections take the socket path",
				zap.Uint64("failed", n), zap.Error(*p))
		}
	}
}

// stats sums the programs' fast-path counts.
func (f *xdpFast) stats() FastPathStats {
	st := FastPathStats{Failed: f.failed.Load()}
	for _, p := range f.progs {
		if p == nil || !p.Fast() {
			continue
		}
		st.On = true
		if c, err := p.Counters(); err == nil {
			st.Packets += c.Fast
		}
	}
	return st
}
