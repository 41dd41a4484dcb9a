package canserve

import (
	"fmt"
	"strconv"
)

// Mode is what a director does while it cannot serve (ulvsd's
// --cannot-serve).
type Mode struct {
	// On: the monitor runs and sets the VRRP condition.
	On bool
	// Weight is 0 for FAULT, else the (negative) priority change.
	Weight int
}

// ParseMode reads --cannot-serve: "fault" (the default, also ""), "off",
// or a priority weight from -1 to -254 (vrrp_script's range below zero).
func ParseMode(s string) (Mode, error) {
	switch s {
	case "fault", "":
		return Mode{On: true}, nil
	case "off":
		return Mode{}, nil
	}
	w, err := strconv.Atoi(s)
	if err != nil || w > -1 || w < -254 {
		return Mode{}, fmt.Errorf("--cannot-serve %q: fault, off, or a priority weight from -1 to -254", s)
	}
	return Mode{On: true, Weight: w}, nil
}
