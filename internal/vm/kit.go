package vm

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// Kit is what a VM is made of, found in a cache directory that
// scripts/ipvs-vm.sh fills: Debian's packages for the kernel, busybox-static
// and ipvsadm (with its libraries) unpacked under Root, and QEMU installed
// on the host.
type Kit struct {
	// Dir is the cache directory.
	Dir string
	// Root holds the unpacked packages.
	Root string
	// Kernel is the kernel image (Root/boot/vmlinuz-<version>).
	Kernel string
	// Version is the kernel release, e.g. 6.1.0-56-amd64.
	Version string
	// Modules is Root/lib/modules/<version>.
	Modules string
	// Busybox is the static busybox binary.
	Busybox string
	// Ipvsadm is the ipvsadm program ("" when the kit has none).
	Ipvsadm string
	// QEMU is the qemu-system-x86_64 program.
	QEMU string
}

// FindKit looks for a prepared kit in dir.
func FindKit(dir string) (*Kit, error) {
	k := &Kit{Dir: dir, Root: filepath.Join(dir, "root")}
	kernels, _ := filepath.Glob(filepath.Join(k.Root, "boot", "vmlinuz-*"))
	if len(kernels) == 0 {
		return nil, fmt.Errorf("vm: no kernel under %s/boot (run scripts/ipvs-vm.sh fetch)", k.Root)
	}
	sort.Strings(kernels)
	k.Kernel = kernels[len(kernels)-1]
	k.Version = strings.TrimPrefix(filepath.Base(k.Kernel), "vmlinuz-")
	k.Modules = filepath.Join(k.Root, "lib", "modules", k.Version)
	if _, err := os.Stat(k.Modules); err != nil {
		return nil, fmt.Errorf("vm: kernel %s has no modules: %w", k.Version, err)
	}
	for _, p := range []string{filepath.Join(k.Root, "bin", "busybox"), "/bin/busybox"} {
		if isStatic(p) {
			k.Busybox = p
			break
		}
	}
	if k.Busybox == "" {
		return nil, fmt.Errorf("vm: no static busybox in %s/bin or /bin (Debian's busybox-static)", k.Root)
	}
	if p := filepath.Join(k.Root, "sbin", "ipvsadm"); fileExists(p) {
		k.Ipvsadm = p
	}
	q, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		return nil, fmt.Errorf("vm: qemu-system-x86_64 not found (Debian's qemu-system-x86): %w", err)
	}
	k.QEMU = q
	return k, nil
}

// LibDirs are where the kit's programs find their shared libraries: the
// unpacked packages first, then the host's (same Debian release).
func (k *Kit) LibDirs() []string {
	return []string{
		filepath.Join(k.Root, "lib/x86_64-linux-gnu"), filepath.Join(k.Root, "usr/lib/x86_64-linux-gnu"),
		"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu",
	}
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

func isStatic(p string) bool {
	if !fileExists(p) {
		return false
	}
	objs, err := SharedObjects(p, nil)
	return err == nil && len(objs) == 0
}

// KernelConfig returns the value of a kernel configuration option (such as
// CONFIG_HZ) from the kit's boot/config-<version>.
func (k *Kit) KernelConfig(name string) (string, error) {
	b, err := os.ReadFile(filepath.Join(k.Root, "boot", "config-"+k.Version))
	if err != nil {
		return "", fmt.Errorf("vm: %w", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, name+"="); ok {
			return strings.Trim(v, `"`), nil
		}
	}
	return "", fmt.Errorf("vm: %s not set in config-%s", name, k.Version)
}
