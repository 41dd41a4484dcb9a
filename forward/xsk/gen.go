package xsk

// The XDP program is compiled by bpf2go (github.com/cilium/ebpf) with
// Debian's clang; steer_bpfel.go and steer_bpfel.o are committed, so that a
// build needs neither. After changing xdp.c, regenerate with
//
//	go generate ./forward/xsk
//
// (apt-get install clang llvm libbpf-dev); TestObjectMatchesSource fails
// until the committed object is the one xdp.c compiles to.
//go:generate go run github.com/cilium/ebpf/cmd/bpf2go -target bpfel -go-package xsk -no-global-types steer xdp.c -- -I/usr/include/x86_64-linux-gnu -O2 -Wall -Werror
