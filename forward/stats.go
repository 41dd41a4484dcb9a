package forward

import "sync/atomic"

// counters are one worker's counters of a service or real server, on their
// own cache line so that workers never share one.
type counters struct {
	conns, inPkts, outPkts, inBytes, outBytes atomic.Uint64
	_                                         [24]byte
}

// add counts pkts packets of bytes bytes in one direction: in, to the real
// servers, or out (a NAT real server's replies).
func (c *counters) add(in bool, pkts, bytes uint64) {
	if in {
		c.inPkts.Add(pkts)
		c.inBytes.Add(bytes)
		return
	}
	c.outPkts.Add(pkts)
	c.outBytes.Add(bytes)
}

// counterSet has one counters per worker (plus one for the control side).
type counterSet []counters

func newCounterSet(workers int) counterSet { return make(counterSet, workers+1) }

func (cs counterSet) sum() Stats {
	var s Stats
	for i := range cs {
		c := &cs[i]
		s.Conns += c.conns.Load()
		s.InPkts += c.inPkts.Load()
		s.OutPkts += c.outPkts.Load()
		s.InBytes += c.inBytes.Load()
		s.OutBytes += c.outBytes.Load()
	}
	return s
}

// estimator is IPVS's rate estimator (ip_vs_est.c): every 2 seconds the
// difference of each counter is folded into an average with weight 1/4.
// Rates are kept scaled (<<10 for counts, <<5 for bytes, as the kernel)
// and read out rounded.
type estimator struct {
	last               Stats
	cps, inpps, outpps uint64
	inbps, outbps      uint64
	started            bool
}

// update folds in the counters of the last 2-second period.
func (e *estimator) update(s Stats) {
	if !e.started {
		e.last, e.started = s, true
		return
	}
	ewma := func(avg *uint64, cur, last uint64, shift uint) {
		rate := int64((cur - last) << shift)
		*avg = uint64(int64(*avg) + (rate-int64(*avg))>>2)
	}
	// Per 2 s: <<9 is (<<10)/2 for counts, <<4 is (<<5)/2 for bytes.
	ewma(&e.cps, s.Conns, e.last.Conns, 9)
	ewma(&e.inpps, s.InPkts, e.last.InPkts, 9)
	ewma(&e.outpps, s.OutPkts, e.last.OutPkts, 9)
	ewma(&e.inbps, s.InBytes, e.last.InBytes, 4)
	ewma(&e.outbps, s.OutBytes, e.last.OutBytes, 4)
	e.last = s
}

func (e *estimator) rates() Rates {
	return Rates{CPS: (e.cps + 0x1ff) >> 10, InPPS: (e.inpps + 0x1ff) >> 10, OutPPS: (e.outpps + 0x1ff) >> 10,
		InBPS: (e.inbps + 0xf) >> 5, OutBPS: (e.outbps + 0xf) >> 5}
}
