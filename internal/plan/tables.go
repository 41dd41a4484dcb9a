package plan

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ulvs/ulvs/conf"
)

// reservedTables are iproute2's own table names (rt_tables lists them
// too; they hold without the file).
var reservedTables = map[string]int{"unspec": 0, "main": 254, "local": 255, "default": 253}

// RouteTableFiles are the files keepalived and iproute2 read table names
// from: /etc/iproute2/rt_tables and rt_tables.d/*.conf, and the
// distribution's defaults under /usr/share/iproute2 and /usr/lib/iproute2
// (iproute2 6.x installs them there).
func RouteTableFiles() []string {
	var files []string
	for _, dir := range []string{"/usr/lib/iproute2", "/usr/share/iproute2", "/etc/iproute2"} {
		files = append(files, filepath.Join(dir, "rt_tables"))
		more, _ := filepath.Glob(filepath.Join(dir, "rt_tables.d", "*.conf"))
		files = append(files, more...)
	}
	return files
}

// ReadRouteTables reads iproute2's "NUMBER NAME" lines from files (later
// files override earlier ones; missing files are skipped), on top of the
// reserved names main, local, default and unspec.
func ReadRouteTables(files ...string) map[string]int {
	m := map[string]int{}
	for k, v := range reservedTables {
		m[k] = v
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			line, _, _ := strings.Cut(sc.Text(), "#")
			fs := strings.Fields(line)
			if len(fs) < 2 {
				continue
			}
			n, err := strconv.ParseUint(fs[0], 0, 32)
			if err != nil {
				continue
			}
			m[fs[1]] = int(n)
		}
	}
	return m
}

// tableNumber is a route table given by number or by name.
func tableNumber(pos conf.Pos, t string, tables map[string]int) (int, error) {
	if t == "" {
		return 0, nil
	}
	if n, ok := tables[t]; ok {
		return n, nil
	}
	if n, ok := reservedTables[t]; ok {
		return n, nil
	}
	n, err := strconv.ParseUint(t, 0, 32)
	if err != nil {
		return 0, errAt(pos, "route table %q is neither a number nor a name in %s", t, "/etc/iproute2/rt_tables")
	}
	return int(n), nil
}
