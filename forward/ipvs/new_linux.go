package ipvs

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/vishvananda/netlink"

	"github.com/ulvs/ulvs/forward"
)

// New opens the kernel's IPVS table through generic netlink. On a kernel
// without IPVS (no ip_vs module, and modprobe cannot load one) it fails at
// once with an error wrapping forward.ErrUnavailable.
func New(cfg *Config) (*Backend, error) {
	if err := available(); err != nil {
		return nil, err
	}
	k, err := openNetlink()
	if err != nil {
		return nil, fmt.Errorf("forward/ipvs: generic netlink: %w: %w", err, forward.ErrUnavailable)
	}
	return newBackend(k, cfg)
}

// available checks for the kernel's "IPVS" generic netlink family, loading
// ip_vs with modprobe when it is missing. moby/ipvs looks the family up
// once per process, so it must not be asked before the module is there.
func available() error {
	if ipvsFamily() == nil {
		return nil
	}
	var tried string
	if mp, err := exec.LookPath("modprobe"); err == nil {
		out, err := exec.Command(mp, "ip_vs").CombinedOutput()
		if err == nil && ipvsFamily() == nil {
			return nil
		}
		tried = fmt.Sprintf("; modprobe ip_vs: %v %s", err, strings.TrimSpace(string(out)))
	} else {
		tried = "; modprobe not found"
	}
	hint := ""
	if _, err := os.Stat("/proc/net/ip_vs"); errors.Is(err, os.ErrNotExist) {
		hint = " (no /proc/net/ip_vs)"
	}
	return fmt.Errorf("forward/ipvs: this kernel has no IPVS%s%s; use the userspace backend: %w",
		hint, tried, forward.ErrUnavailable)
}

func ipvsFamily() error {
	_, err := netlink.GenlFamilyGet("IPVS")
	return err
}
