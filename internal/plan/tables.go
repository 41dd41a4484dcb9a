package plan

import (
	"strconv"

	"github.com/ulvs/ulvs/conf"
)

// tableNumber is a route table: conf has turned names into numbers
// (reading iproute2's rt_tables as keepalived does, and dropping a route
// whose table is not there).
func tableNumber(pos conf.Pos, t string) (int, error) {
	if t == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(t, 0, 32)
	if err != nil {
		return 0, errAt(pos, "route table %q is neither a number nor a name in %s", t, "/etc/iproute2/rt_tables")
	}
	return int(n), nil
}
