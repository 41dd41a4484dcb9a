// Package vm boots a Linux kernel under QEMU with a small initramfs and
// talks to a Go agent inside it. It exists to test what this machine's
// kernel lacks: kernel IPVS (Debian's kernel ships the ip_vs modules), as
// an oracle for the kernel IPVS backend and for package sched.
//
// The pieces:
//
//   - Kit finds what a VM is made of in a cache directory that
//     scripts/ipvs-vm.sh fills from Debian packages: the kernel image, its
//     modules tree, busybox (static) and ipvsadm with its libraries.
//   - ModuleIndex resolves kernel modules and their dependencies from the
//     modules' own metadata (the "depends=" field of each .ko's .modinfo
//     section), because Debian's package carries no modules.dep: depmod
//     writes that at install time.
//   - Image assembles an initramfs (cpio "newc") from host files, bytes and
//     dynamically linked programs with the shared libraries their ELF
//     headers name.
//   - Machine runs qemu-system-x86_64 (TCG: /dev/kvm on these machines
//     cannot boot a stock kernel), optionally with a tap device in a
//     network namespace, and exchanges JSON requests with the agent over a
//     virtio-serial port, so the control channel does not depend on the
//     network under test.
//
// Left out: disks, SMP guests, KVM acceleration, compressed modules
// (.ko.xz, .ko.zst: Debian 12's kernel ships plain .ko files) and any
// network set-up in the guest beyond what the caller asks the agent to run.
package vm
