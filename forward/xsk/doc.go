// Package xsk is ulvs's AF_XDP I/O: an XDP program that steers a virtual
// service's frames into AF_XDP sockets before the kernel's stack sees
// them, and the sockets themselves, on golang.org/x/sys/unix.
//
//   - Program (Attach) loads xdp.c, compiled by bpf2go and committed as
//     steer_bpfel.o, and attaches it to an interface in native (driver)
//     mode only: generic XDP builds an skb first and saves nothing. Sync
//     fills its maps with the tuples the kernel guard covers (services,
//     NAT real servers) and the director's own addresses; Register puts a
//     socket in the XSKMAP slot of its receive queue. Covered frames on a
//     queue without a socket are dropped (fail closed); everything else
//     passes to the kernel. Counters reports what it steered, passed and
//     dropped.
//   - The fast path (Attach with fastFlows > 0): AddFlows puts
//     connections into the program's LRU flow table with their real
//     servers' handles (one system call per map), SetReal gives a handle its next hop; the program then
//     forwards the connection's state-neutral packets itself by XDP_TX
//     (see xdp.c), stamping the flow's last packet time (FlowSeen) and
//     counting per real server (RealCounts). AttachPass is the pass-all
//     program a veth's peer needs for XDP_TX frames to be delivered.
//   - Socket (Open) is one AF_XDP socket bound to one (interface, queue),
//     with its own UMEM, fill and completion rings, XDP_USE_NEED_WAKEUP,
//     zero-copy where the driver offers it and copy mode otherwise. Recv
//     hands out up to a batch of received frames, which alias the UMEM
//     until the next Recv; Add queues a frame for transmission — in place
//     when it is a received frame of this socket (no copy), copied into a
//     free UMEM frame otherwise — and Flush kicks the kernel.
//
// Left out: shared UMEM between sockets, multi-buffer (XDP_USE_SG) frames
// larger than a UMEM frame (the interface's MTU must fit in one: 1500 with
// the default 2 KiB frames, 3 KiB with FrameSize 4096), TX metadata
// (checksum offload on transmit) and busy polling.
package xsk
