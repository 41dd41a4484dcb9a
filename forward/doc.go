// Package forward is ulvs's data path: it forwards a virtual service's
// traffic to its real servers in DR, NAT and TUN modes, keeping connection
// and persistence tables with IPVS's semantics.
//
// Two backends implement one interface: a userspace forwarder on AF_PACKET
// rings, for kernels without IPVS, and kernel IPVS programmed through
// netlink, for comparison.
package forward
