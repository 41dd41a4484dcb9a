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

	// FlagsSched is the mask of the scheduler flags.
	FlagsSched = FlagSched1 | FlagSched2 | FlagSched3
)

// Default is the scheduler of a virtual service that names none: ipvsadm's
// and keepalived's (lb_algo) default.
const Default = "wlc"

// Names lists the schedulers in ipvsadm's order of documentation.
var Names = []string{"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos"}

// Errors callers may branch on.
var (
	// ErrUnknownScheduler: the name is not one of Names.
	ErrUnknownScheduler = errors.New("sched: unknown scheduler")
	// ErrFlag: a scheduler flag that the scheduler does not use, or an
	// unknown flag name.
	ErrFlag = errors.New("sched: scheduler flag does not apply")
)

// flagNames maps ipvsadm's -b names to bits and the scheduler they belong
// to ("" = any).
var flagNames = []struct {
	name  string
	bit   uint32
	sched string
}{
	{"flag-1", FlagSched1, ""},
	{"flag-2", FlagSched2, ""},
	{"flag-3", FlagSched3, ""},
	{"sh-fallback", FlagSched1, "sh"},
	{"sh-port", FlagSched2, "sh"},
	{"mh-fallback", FlagSched1, "mh"},
	{"mh-port", FlagSched2, "mh"},
}

// ParseFlags parses ipvsadm's -b argument ("sh-fallback,sh-port", or
// "flag-1,flag-2,flag-3") for scheduler name into flag bits. An unknown
// scheduler wraps ErrUnknownScheduler; a flag name that belongs to another
// scheduler, or that the scheduler does not use, wraps ErrFlag.
func ParseFlags(name, list string) (uint32, error) {
	var bits uint32
	if _, err := lookupKind(name); err != nil {
		return 0, err
	}
	if list == "" {
		return 0, nil
	}
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		found := false
		for _, fn := range flagNames {
			if fn.name != f {
				continue
			}
			if fn.sched != "" && fn.sched != name {
				return 0, fmt.Errorf("%w: %s: %q is for %s only", ErrFlag, name, f, fn.sched)
			}
			bits |= fn.bit
			found = true
		}
		if !found {
			return 0, fmt.Errorf("%w: unknown flag %q", ErrFlag, f)
		}
	}
	if err := checkFlags(name, bits); err != nil {
		return 0, err
	}
	return bits, nil
}

// FlagString renders flag bits with the scheduler's names, as ipvsadm -Ln
// shows them ("sh-fallback,sh-port"; "flag-3").
func FlagString(name string, bits uint32) string {
	var out []string
	for _, b := range []uint32{FlagSched1, FlagSched2, FlagSched3} {
		if bits&b == 0 {
			continue
		}
		n := ""
		for _, fn := range flagNames {
			if fn.bit == b && fn.sched == name {
				n = fn.name
			}
		}
		if n == "" {
			for _, fn := range flagNames {
				if fn.bit == b && fn.sched == "" {
					n = fn.name
				}
			}
		}
		out = append(out, n)
	}
	return strings.Join(out, ",")
}

// checkFlags rejects bits outside FlagsSched and scheduler flags that the
// named scheduler ignores: SCHED1/SCHED2 are meaningful to sh and mh only,
// and SCHED3 to none.
func checkFlags(name string, bits uint32) error {
	if bits&^FlagsSched != 0 {
		return fmt.Errorf("%w: %s: %#x are not scheduler flags", ErrFlag, name, bits&^FlagsSched)
	}
	switch {
	case bits&FlagSched3 != 0:
		return fmt.Errorf("%w: %s: flag-3 is used by no scheduler", ErrFlag, name)
	case bits != 0 && name != "sh" && name != "mh":
		return fmt.Errorf("%w: %s: %s apply to sh and mh only", ErrFlag, name, FlagString(name, bits))
	}
	return nil
}
