package forward

import (
	"time"

	"github.com/ulvs/ulvs/forward/conntab"
	"github.com/ulvs/ulvs/forward/syncmsg"
)

// fastPath is the XDP fast path as the engine sees it (Config.XDPFastPath;
// the program is forward/xsk/xdp.c): established DR and NAT connections are
// put into the interface's XDP program, which forwards their further
// packets (and a NAT connection's replies) itself. The engine keeps the tables: every packet that can change a
// connection's state still comes here, and a connection's time is read
// from the program before it expires.
type fastPath interface {
	// add puts connection e, whose packet worker wid is handling, on the
	// fast path of the interface its client packets arrive on, to real
	// server r; false if it cannot go there. The program is given it at
	// the worker's next commit.
	add(wid int, e *conntab.Entry, r *real) bool
	// commit gives the programs the connections worker wid added since its
	// last commit, in one system call per map rather than one per
	// connection inside the shard lock (a flood of new flows overflowed
	// the socket's receive ring), and undoes what changed meanwhile. The
	// worker calls it after each batch of frames, holding no shard lock.
	commit(wid int)
	// del takes e off the fast path.
	del(e *conntab.Entry)
	// seen returns how long ago e's last fast-path packet came; false
	// when the program does not hold e (never added, or evicted).
	seen(e *conntab.Entry) (time.Duration, bool)
	// retire sends real server r's connections to the engine from now on
	// (r was removed: their packets are to be dropped).
	retire(r *real)
}

// fastEligible says whether a connection may take the fast path after the
// current packet: a DR or NAT connection, UDP or established TCP that has
// sent fastAfter packets; while this director is a sync master, only once
// the sync daemon has had its first message about it (the 3rd client
// packet, as syncNeeded), since the fast path's packets do not count
// towards the next one.
func fastEligible(e *conntab.Entry, syncing bool) bool {
	if m := Method(e.Method); m != DR && m != NAT || syncing && e.Pkts < syncThreshold {
		return false
	}
	switch e.Proto {
	case UDP:
		return true
	case TCP:
		return e.State == conntab.TCPEstablished && e.Pkts >= fastAfter
	}
	return false
}

// fastAfter is how many client packets a TCP connection sends through user
// space before it takes the fast path. A short connection — handshake, a
// request, the ACK of its answer, the closes: five or six client packets —
// ends before that and spends no map update going on the fast path and
// none coming off it, which cost it more than its one or two fast packets
// saved; a long one loses a few packets' worth.
const fastAfter = 8

// fastUpdate puts a connection on the fast path or takes it off after its
// packet moved it, either way (shard lock held).
func (w *worker) fastUpdate(e *conntab.Entry, r *real) {
	want, has := fastEligible(e, w.e.syncq.Load() != nil), e.Flags&conntab.FlagFast != 0
	switch {
	case want && !has:
		if w.e.fast.add(w.id, e, r) {
			e.Flags |= conntab.FlagFast
			// The first look at its last packet time comes at half its
			// timeout, so that a backup director hears of it in time.
			e.Expires = w.now + max(w.e.timeouts.Load().Ticks(e.Proto, e.State)/2, 1)
		}
	case !want && has:
		w.e.fast.del(e)
		e.Flags &^= conntab.FlagFast
	}
}

// fastRefresh is the connection table's Refresh: a fast-path connection
// whose time has come lives on when the program saw a packet within its
// timeout; it is looked at again at half its timeout at most, and each
// time it lives on, a sync master tells its backups (IPVS refreshes them
// every 50th packet, which the fast path does not see).
func (eng *engine) fastRefresh(c *conntab.Entry, now uint32) bool {
	if eng.fast == nil {
		return false
	}
	age, ok := eng.fast.seen(c)
	if !ok {
		return false
	}
	timeout := eng.timeouts.Load().Ticks(c.Proto, c.State)
	ageTicks := uint32(min(age/(time.Second/conntab.TicksPerSecond), time.Duration(^uint32(0))))
	if ageTicks >= timeout {
		return false
	}
	c.Expires = now + max(min(timeout-ageTicks, timeout/2), 1)
	if q := eng.syncq.Load(); q != nil {
		var m syncmsg.Conn
		eng.describeConn(&m, c, false)
		q.push(&m)
	}
	return true
}
