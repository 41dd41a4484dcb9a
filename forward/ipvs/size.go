package ipvs

import (
	"fmt"
	"os"
	"strings"
)

// DefaultTableSize is the size of the kernel's connection hash table when
// /proc/net/ip_vs does not say (CONFIG_IP_VS_TAB_BITS=12, the kernel's
// default and Debian's).
const DefaultTableSize = 4096

// procIPVS begins with the line ipvsadm's header copies.
const procIPVS = "/proc/net/ip_vs"

// TableSize is the size of the kernel's connection hash table, as
// ipvsadm's header shows it ("IP Virtual Server version 1.2.1
// (size=4096)"), read from /proc/net/ip_vs.
func (b *Backend) TableSize() int {
	data, err := os.ReadFile(procIPVS)
	if err != nil {
		return DefaultTableSize
	}
	return parseTableSize(string(data))
}

func parseTableSize(s string) int {
	var version string
	var n int
	line, _, _ := strings.Cut(s, "\n")
	if _, err := fmt.Sscanf(line, "IP Virtual Server version %s (size=%d)", &version, &n); err != nil || n <= 0 {
		return DefaultTableSize
	}
	return n
}
