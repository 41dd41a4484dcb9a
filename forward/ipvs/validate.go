package ipvs

import (
	"fmt"
	"time"

	"github.com/ulvs/ulvs/forward"
	"github.com/ulvs/ulvs/sched"
)

// maxWeight is the largest weight the backend accepts: moby/ipvs reads a
// destination's weight back as 16 bits.
const maxWeight = 65535

// validService is forward's checks of a service and this backend's own:
// whole seconds of persistence, scheduler flags SCHED1..3, the weights
// the kernel can hold.
func validService(c *forward.ServiceConfig) error {
	if err := c.Validate(); err != nil {
		return fmt.Errorf("forward/ipvs: %w", err)
	}
	k := c.Key
	switch {
	case c.Persistence%time.Second != 0:
		return fmt.Errorf("forward/ipvs: service %v: persistence timeout %v is not whole seconds", k, c.Persistence)
	case c.SchedFlags&^sched.FlagsSched != 0:
		return fmt.Errorf("forward/ipvs: service %v: scheduler flags %#x are not SCHED1..3", k, c.SchedFlags)
	}
	if c.Sorry != nil {
		if err := validReal(*c.Sorry); err != nil {
			return fmt.Errorf("forward/ipvs: service %v: sorry server: %w", k, err)
		}
	}
	return nil
}

// validReal is forward's checks of a real server and the kernel's weight
// limit.
func validReal(r forward.RealConfig) error {
	if err := r.Validate(); err != nil {
		return err
	}
	if r.Weight < 0 || r.Weight > maxWeight {
		return fmt.Errorf("%w: real server %v: weight %d is outside 0..%d", forward.ErrUnsupported, r.Addr, r.Weight, maxWeight)
	}
	return nil
}
