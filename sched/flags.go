package sched

import (
	"errors"
	"fmt"
	"strings"
)

// Scheduler flags of a virtual service (include/uapi/linux/ip_vs.h).
const (
	// FlagSched1 is IP_VS_SVC_F_SCHED1: sh-fallback for sh, mh-fallback for mh.
	FlagSched1 uint32 = 0x0008
	// FlagSched2 is IP_VS_SVC_F_SCHED2: sh-port for sh, mh-port for mh.
	FlagSched2 uint32 = 0x0010
	// FlagSched3 is IP_VS_SVC_F_SCHED3 (flag-3), which no scheduler uses.
	FlagSched3 uint32 = 0x0020

	// FlagsSched is the mask of the kernel's scheduler flags.
	FlagsSched = FlagSched1 | FlagSched2 | FlagSched3

	// FlagECMP is ulvs's own flag (never sent to the kernel; ipvsadm -b
	// "mh-ecmp"), for mh only: the table of a director behind ECMP, which
	// every director builds the same from the same real servers whatever
	// order they were added, removed or failed in. See ecmp.go.
	FlagECMP uint32 = 0x0100_0000
)

// Default is the scheduler of a virtual service that names none: ipvsadm's
// and keepalived's (lb_algo) default.
const Default = "wlc"

// Errors callers may branch on.
var (
	// ErrUnknownScheduler: the name is not one of Names.
	ErrUnknownScheduler = errors.New("sched: unknown scheduler")
	// ErrFlag: a scheduler flag that the scheduler does not use, or an
	// unknown flag name.
	ErrFlag = errors.New("sched: scheduler flag does not apply")
)

// rawFlags are ipvsadm's names of the bits for any scheduler (-b
// flag-1,flag-2,flag-3); a scheduler that honours a bit names it in its
// row of kinds.
var rawFlags = []struct {
	name string
	bit  uint32
}{{"flag-1", FlagSched1}, {"flag-2", FlagSched2}, {"flag-3", FlagSched3}}

// ParseFlags parses ipvsadm's -b argument ("sh-fallback,sh-port", or
// "flag-1,flag-2,flag-3") for scheduler name into flag bits. An unknown
// scheduler wraps ErrUnknownScheduler; a flag name that belongs to another
// scheduler, or that the scheduler does not use, wraps ErrFlag.
func ParseFlags(name, list string) (uint32, error) {
	if _, err := lookupKind(name); err != nil {
		return 0, err
	}
	if list == "" {
		return 0, nil
	}
	var bits uint32
	for _, f := range strings.Split(list, ",") {
		bit, owner := flagBit(strings.TrimSpace(f))
		switch {
		case bit == 0:
			return 0, fmt.Errorf("%w: unknown flag %q", ErrFlag, f)
		case owner != "" && owner != name:
			return 0, fmt.Errorf("%w: %s: %q is for %s only", ErrFlag, name, f, owner)
		}
		bits |= bit
	}
	if err := checkFlags(name, bits); err != nil {
		return 0, err
	}
	return bits, nil
}

// flagBit is the bit a flag name stands for, and the scheduler that names
// it ("" for flag-N).
func flagBit(f string) (uint32, string) {
	for _, r := range rawFlags {
		if r.name == f {
			return r.bit, ""
		}
	}
	for _, k := range kinds {
		for bit, n := range k.flags {
			if n == f {
				return bit, k.name
			}
		}
	}
	return 0, ""
}

// FlagString renders flag bits with the scheduler's names, as ipvsadm -Ln
// shows them ("sh-fallback,sh-port"; "flag-3").
func FlagString(name string, bits uint32) string {
	k, _ := lookupKind(name)
	var out []string
	for _, r := range rawFlags {
		if bits&r.bit == 0 {
			continue
		}
		n := r.name
		if k != nil && k.flags[r.bit] != "" {
			n = k.flags[r.bit]
		}
		out = append(out, n)
	}
	if bits&FlagECMP != 0 {
		out = append(out, "mh-ecmp")
	}
	return strings.Join(out, ",")
}

// checkFlags rejects bits outside FlagsSched and scheduler flags that the
// named scheduler does not honour (its row of kinds says which: SCHED1 and
// SCHED2 for sh and mh; SCHED3 for none).
func checkFlags(name string, bits uint32) error {
	if bits&^(FlagsSched|FlagECMP) != 0 {
		return fmt.Errorf("%w: %s: %#x are not scheduler flags", ErrFlag, name, bits&^(FlagsSched|FlagECMP))
	}
	k, err := lookupKind(name)
	if err != nil {
		return err
	}
	if bits&FlagECMP != 0 && k.flags[FlagECMP] == "" {
		return fmt.Errorf("%w: %s: mh-ecmp applies to mh only", ErrFlag, name)
	}
	users := func(bit uint32) []string {
		var out []string
		for _, o := range kinds {
			if o.flags[bit] != "" {
				out = append(out, o.name)
			}
		}
		return out
	}
	for _, r := range rawFlags {
		if bits&r.bit != 0 && len(users(r.bit)) == 0 {
			return fmt.Errorf("%w: %s: %s is used by no scheduler", ErrFlag, name, r.name)
		}
	}
	for _, r := range rawFlags {
		if bits&r.bit != 0 && k.flags[r.bit] == "" {
			return fmt.Errorf("%w: %s: %s apply to %s only", ErrFlag, name, FlagString(name, bits),
				strings.Join(users(r.bit), " and "))
		}
	}
	return nil
}
