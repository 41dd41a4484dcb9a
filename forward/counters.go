package forward

import "github.com/ulvs/ulvs/forward/conntab"

// Drops count the packets a backend dropped, by reason, since it started.
// Each field is one reason; Each lists them with their metric names.
type Drops struct {
	// Malformed: headers that do not hold together (bad lengths, truncated
	// transport header), addressed to a virtual service or a NAT real
	// server.
	Malformed uint64
	// BadChecksum: an IPv4 header checksum, or an ICMP error's checksum,
	// that does not verify (the kernel drops these before IPVS sees them).
	BadChecksum uint64
	// NoConn: a TCP packet other than a SYN with no connection (sloppy_tcp
	// off), as IPVS leaves them.
	NoConn uint64
	// NoDest: no real server available and no sorry server, or a
	// connection whose real server is gone.
	NoDest uint64
	// TableFull: a new connection when the connection table is full and no
	// entry could be evicted.
	TableFull uint64
	// NoHop: the real server has no route or no resolved neighbour yet (the
	// forwarder asks the kernel to resolve it), or its local delivery is not
	// possible (see the package documentation).
	NoHop uint64
	// TooBig: a packet that does not fit the tunnel and may not be
	// fragmented (the client gets ICMP fragmentation-needed).
	TooBig uint64
	// TTL: a NAT reply whose TTL or hop limit ran out.
	TTL uint64
	// FragOrphan: a later IP fragment whose first fragment was never seen
	// (it waited in the holding area until it expired or was pushed out).
	FragOrphan uint64
	// TxFull: the transmit batch refused a frame.
	TxFull uint64
	// Local: handing a packet to the director's own stack failed.
	Local uint64
	// RxOverflow: frames the kernel could not put in a worker's receive
	// ring because it was full (PACKET_STATISTICS tp_drops).
	RxOverflow uint64
	// TxError: frames the kernel refused on transmit (sendmmsg errors such
	// as ENOBUFS or ENETDOWN).
	TxError uint64
}

// Each calls fn for every reason, in a fixed order, with a stable
// snake_case name (for metric labels).
func (d Drops) Each(fn func(reason string, n uint64)) {
	fn("malformed", d.Malformed)
	fn("bad_checksum", d.BadChecksum)
	fn("no_connection", d.NoConn)
	fn("no_real_server", d.NoDest)
	fn("table_full", d.TableFull)
	fn("no_route", d.NoHop)
	fn("too_big", d.TooBig)
	fn("ttl_exceeded", d.TTL)
	fn("fragment_orphan", d.FragOrphan)
	fn("transmit_full", d.TxFull)
	fn("local_delivery", d.Local)
	fn("receive_overflow", d.RxOverflow)
	fn("transmit_error", d.TxError)
}

// DropCounter is implemented by backends that count what they drop (the
// userspace one). Callers test for it with a type assertion; a backend
// without it (kernel IPVS) has no such counters.
type DropCounter interface {
	Drops() Drops
}

// TableStats describe one connection or template table without listing
// it: cheap enough for every metrics scrape at a million entries.
type TableStats struct {
	// Entries is the number of entries now, Capacity the most it holds.
	Entries, Capacity int
	// Inserted, Expired and Evicted count entries over the table's life;
	// Refused counts inserts refused because it was full.
	Inserted, Expired, Evicted, Refused uint64
}

// Tables are the sizes of a backend's connection and persistence-template
// tables.
type Tables struct {
	Conns, Templates TableStats
}

// TableCounter is implemented by backends that can count their tables'
// entries without listing them (the userspace one; Conns lists them).
type TableCounter interface {
	Tables() Tables
}

var (
	_ DropCounter  = (*Userspace)(nil)
	_ TableCounter = (*Userspace)(nil)
)

// Drops returns the packets dropped so far, by reason.
func (u *Userspace) Drops() Drops {
	if u.pollIO != nil {
		u.pollIO()
	}
	d := &u.e.drops
	return Drops{Malformed: d.malformed.Load(), BadChecksum: d.badCsum.Load(), NoConn: d.noConn.Load(),
		NoDest: d.noDest.Load(), TableFull: d.tableFull.Load(), NoHop: d.noHop.Load(), TooBig: d.tooBig.Load(),
		TTL: d.ttl.Load(), FragOrphan: d.fragOrphan.Load(), TxFull: d.txFull.Load(), Local: d.local.Load(),
		RxOverflow: d.rxOverflow.Load(), TxError: d.txError.Load()}
}

// Tables returns the sizes of the connection and template tables; it
// takes each shard's lock briefly and lists nothing.
func (u *Userspace) Tables() Tables {
	return Tables{Conns: tableStats(u.e.conns), Templates: tableStats(u.e.tpls)}
}

func tableStats(t *conntab.Table) TableStats {
	s := t.Stats()
	return TableStats{Entries: s.Entries, Capacity: t.Max(), Inserted: s.Inserted, Expired: s.Expired,
		Evicted: s.Evicted, Refused: s.Refused}
}
