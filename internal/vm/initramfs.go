package vm

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ulvs/ulvs/internal/vm/agent"
)

// baseModules are what every guest needs: the virtio PCI transport, the
// network card and the virtio-serial port of the control channel.
var baseModules = []string{"virtio_pci", "virtio_net", "virtio_console"}

// InitramfsConfig says what goes into a guest's initramfs.
type InitramfsConfig struct {
	// Agent is the static program that init runs last (a main package that
	// calls agent.Main). It becomes /sbin/ulvs-agent.
	Agent string
	// AgentArgs are passed to it.
	AgentArgs []string
	// Modules are loaded at boot, after their dependencies and the base
	// modules (virtio_pci, virtio_net, virtio_console).
	Modules []string
	// Files are extra host files: guest path → host path (mode 0755).
	Files map[string]string
	// Programs are extra dynamically linked programs (guest path → host
	// path), added with their libraries. The kit's ipvsadm, when it has
	// one, is always added as /sbin/ipvsadm.
	Programs map[string]string
}

// BuildInitramfs writes the initramfs for cfg to out and returns the
// modules it loads, in load order.
func (k *Kit) BuildInitramfs(out string, cfg InitramfsConfig) ([]*Module, error) {
	if !isStatic(cfg.Agent) {
		return nil, fmt.Errorf("vm: agent %q must be a static program (CGO_ENABLED=0)", cfg.Agent)
	}
	idx, err := OpenModules(k.Modules)
	if err != nil {
		return nil, err
	}
	mods, err := idx.Closure(append(append([]string(nil), baseModules...), cfg.Modules...)...)
	if err != nil {
		return nil, err
	}
	im := NewImage()
	for _, d := range []string{"/proc", "/sys", "/dev", "/tmp", "/run", "/etc", "/usr/bin", "/usr/sbin"} {
		if err := im.Dir(d); err != nil {
			return nil, err
		}
	}
	if err := im.File("/bin/busybox", k.Busybox, 0o755); err != nil {
		return nil, err
	}
	// The kernel runs /init before busybox --install has made its links.
	if err := im.Symlink("/bin/sh", "busybox"); err != nil {
		return nil, err
	}
	var order strings.Builder
	for _, m := range mods {
		if err := im.File("/lib/modules/"+m.Name+".ko", m.Path, 0o644); err != nil {
			return nil, err
		}
		order.WriteString(m.Name + "\n")
	}
	if err := im.Bytes("/etc/modules.order", []byte(order.String()), 0o644); err != nil {
		return nil, err
	}
	if err := im.File("/sbin/ulvs-agent", cfg.Agent, 0o755); err != nil {
		return nil, err
	}
	progs := map[string]string{}
	if k.Ipvsadm != "" {
		progs["/sbin/ipvsadm"] = k.Ipvsadm
	}
	for g, h := range cfg.Programs {
		progs[g] = h
	}
	for g, h := range progs {
		if err := im.Program(g, h, k.LibDirs()); err != nil {
			return nil, err
		}
	}
	for g, h := range cfg.Files {
		if err := im.File(g, h, 0o755); err != nil {
			return nil, err
		}
	}
	if err := im.Bytes("/init", []byte(initScript(cfg.AgentArgs)), 0o755); err != nil {
		return nil, err
	}
	f, err := os.Create(out)
	if err != nil {
		return nil, fmt.Errorf("vm: %w", err)
	}
	if _, err := im.WriteTo(f); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("vm: %w", err)
	}
	return mods, nil
}

// initScript is the guest's /init: mount the pseudo file systems, load
// the modules in dependency order, run the agent, power off when it exits.
func initScript(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return fmt.Sprintf(`#!/bin/sh
/bin/busybox --install -s /bin
export PATH=/sbin:/bin:/usr/sbin:/usr/bin LD_LIBRARY_PATH=%[1]s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
while read m; do
  insmod /lib/modules/$m.ko || echo "ulvs-init: insmod $m failed"
done < /etc/modules.order
ip link set lo up
echo "ulvs-init: modules loaded, starting the agent"
/sbin/ulvs-agent %[2]s
echo "%[3]s $?"
poweroff -f
`, GuestLibDir, strings.Join(q, " "), agent.ExitMarker)
}

// Abs returns p made absolute (for qemu's arguments).
func abs(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}
