//go:build ignore

// SPDX-License-Identifier: (MIT OR GPL-2.0-only)
//
// ulvs's XDP program: it steers exactly the frames that the kernel guard
// (forward/guard) covers into the AF_XDP socket of their receive queue, and
// passes every other frame to the kernel. Covered are:
//
//   - packets to a service's VIP, protocol and port (any port for port-0
//     services), with the later IP fragments of UDP and SCTP services;
//   - ICMP errors to a VIP;
//   - in NAT mode, packets from a real server's address and port, with
//     their later fragments (UDP, SCTP) and ICMP errors, whose destination
//     is not one of the director's own addresses (so its health checks'
//     replies still reach its stack).
//
// Covered traffic whose queue has no socket is dropped, not passed: the
// forwarder is down or starting, and the kernel must not answer for it
// (fail closed). Frames to a multicast or broadcast MAC (ARP, VRRP) and
// 802.1Q-tagged frames always pass.
//
// The fast path (optional, the fast_on switch): a DR or NAT connection that
// user space has marked established in the flows map is forwarded here,
// without the socket: the frame gets its real server's MACs (the reals map,
// by handle) and leaves by XDP_TX on the interface it came in on. A NAT
// connection's packets are rewritten as user space does (forward/frame):
// the client's to the real server's address and port, the real server's
// replies (the replies map) to the VIP's, with the TTL or hop limit
// decremented, to the client side's next hop — every checksum updated
// incrementally (RFC 1624) in the same order, so the bytes are the same.
// Only what cannot change the connection's state takes it: TCP without SYN,
// FIN or RST and UDP, unfragmented, whose checksum is complete (a veth
// peer's partial checksums go to user space, which completes them), and a
// reply whose TTL would run out goes to user space too. Everything else,
// and a flow whose real server or client leaves by another interface, goes
// to the socket as before; user space keeps the connection table, its
// states and timers (reading each flow's last packet time, both ways, before
// it expires one) and adds the per-real-server counts to its statistics.
//
// Addresses in the maps are 16 bytes, IPv4 mapped into IPv6 (::ffff:a.b.c.d)
// as forward/conntab stores them.

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>

#ifndef IPPROTO_ICMPV6
#define IPPROTO_ICMPV6 58
#endif
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct tuple {
	__u8 addr[16];
	__u8 proto;
	__u8 pad;
	__u16 port; // network order; 0 is every port
};

// Protocol bits of the vips and nat_addrs values: which protocols'
// later fragments are covered.
#define COVER_ANY 1
#define COVER_FRAG_UDP 2
#define COVER_FRAG_SCTP 4

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct tuple);
	__type(value, __u8);
} services SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct tuple);
	__type(value, __u8);
} nat_reals SEC(".maps");

struct addr {
	__u8 a[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct addr);
	__type(value, __u8);
} vips SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct addr);
	__type(value, __u8);
} nat_addrs SEC(".maps");

// locals are the director's own addresses: a NAT real server's packet to
// one of them is the director's own traffic and passes.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct addr);
	__type(value, __u8);
} locals SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u32);
} xsks SEC(".maps");

// Counters, per CPU: frames steered, passed, dropped for want of a socket
// on their queue, and forwarded by the fast path.
enum { STAT_STEERED, STAT_PASSED, STAT_NO_SOCKET, STAT_FAST, STAT_MAX };

// The fast path's connections: client to VIP, as conntab's key.
struct flow_key {
	__u8 src[16], dst[16];
	__u16 sport, dport; // network order
	__u8 proto;
	__u8 pad[3];
};

struct flow {
	// real is the real server's handle (the reals and real_stats index).
	__u32 real;
	// nat is 1 for a NAT connection: the packet goes to raddr:rport.
	__u32 nat;
	// seen is bpf_ktime_get_ns of the flow's last fast-path packet.
	__u64 seen;
	__u8 raddr[16];
	__u16 rport; // network order
	__u8 pad[6];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 262144);
	__type(key, struct flow_key);
	__type(value, struct flow);
} flows SEC(".maps");

// A NAT connection's replies, keyed by the real server to the client (as
// struct flow_key: src the real server, dst the client): they leave from
// vaddr:vport, to the client side's next hop dmac from the interface's
// smac, by XDP_TX. Each interface's program has its own maps, and user
// space puts a connection's replies only into the program of the interface
// that both its client and its real server are behind.
struct reply {
	__u8 vaddr[16];
	__u16 vport; // network order
	__u8 dmac[6], smac[6];
	__u16 pad;
	__u32 real;
	__u32 pad2;
	__u64 seen;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 262144);
	__type(key, struct flow_key);
	__type(value, struct reply);
} replies SEC(".maps");

// A real server's next hop, by handle; ifindex 0 is none.
struct real_hop {
	__u8 dst[6], src[6];
	__u32 ifindex;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct real_hop);
} reals SEC(".maps");

// Per real server and CPU: packets and IP bytes the fast path forwarded to
// it, and (NAT) of its replies.
struct real_count {
	__u64 pkts, bytes, out_pkts, out_bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct real_count);
} real_stats SEC(".maps");

// fast_on[0] is 1 while user space runs the fast path.
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} fast_on SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

static __always_inline void count(__u32 what)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &what);
	if (v)
		*v += 1;
}

static __always_inline int pass(void)
{
	count(STAT_PASSED);
	return XDP_PASS;
}

static __always_inline int steer(struct xdp_md *ctx)
{
	__u32 q = ctx->rx_queue_index;
	if (!bpf_map_lookup_elem(&xsks, &q)) {
		count(STAT_NO_SOCKET);
		return XDP_DROP;
	}
	count(STAT_STEERED);
	return bpf_redirect_map(&xsks, q, XDP_DROP);
}

static __always_inline void map4(__u8 *dst, __be32 a)
{
	__builtin_memset(dst, 0, 10);
	dst[10] = 0xff;
	dst[11] = 0xff;
	__builtin_memcpy(dst + 12, &a, 4);
}

static __always_inline __u8 frag_bit(__u8 proto)
{
	if (proto == IPPROTO_UDP)
		return COVER_FRAG_UDP;
	if (proto == IPPROTO_SCTP)
		return COVER_FRAG_SCTP;
	return 0;
}

static __always_inline int is_icmp_error(__u8 proto, __u8 type)
{
	if (proto == IPPROTO_ICMP)
		return type == 3 || type == 4 || type == 11 || type == 12;
	if (proto == IPPROTO_ICMPV6)
		return type >= 1 && type <= 4;
	return 0;
}

// pkt is what the fast path needs of an IP packet beyond its addresses.
struct pkt {
	__u32 iplen; // the IP packet's length (counted as user space does)
	__u32 l4len; // the transport segment's length
	__u8 whole;  // not a fragment
	__u8 v6;
};

// pseudo_sum is the transport pseudo-header's one's-complement sum, folded
// (what a sender that offloads its checksum leaves in the field).
static __always_inline __u16 pseudo_sum(struct addr *src, struct addr *dst, __u8 proto, struct pkt *pk)
{
	__u64 sum = (__u64)proto + pk->l4len;
	int from = pk->v6 ? 0 : 12;
#pragma unroll
	for (int i = 0; i < 16; i += 2) {
		if (i < from)
			continue;
		sum += ((__u16)src->a[i] << 8 | src->a[i + 1]) + ((__u16)dst->a[i] << 8 | dst->a[i + 1]);
	}
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)sum;
}

// be16 and put16 read and write a 16-bit field in network order.
static __always_inline __u16 be16(const __u8 *p)
{
	return (__u16)p[0] << 8 | p[1];
}

static __always_inline void put16(__u8 *p, __u16 v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static __always_inline __u16 fold(__u64 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)sum;
}

// update16 and update4/update16s are RFC 1624's HC' = ~(~HC + ~m + m'),
// frame.Update16 and frame.Update: a 16-bit field, a 4- or 16-byte one.
static __always_inline __u16 update16(__u16 hc, __u16 old, __u16 new)
{
	return ~fold((__u64)(__u16)~hc + (__u16)~old + new);
}

static __always_inline __u16 update4(__u16 hc, const __u8 *old, const __u8 *new)
{
	__u64 sum = (__u16)~hc;
	sum += (__u16)~be16(old) + be16(new);
	sum += (__u16)~be16(old + 2) + be16(new + 2);
	return ~fold(sum);
}

static __always_inline __u16 update16s(__u16 hc, const __u8 *old, const __u8 *new)
{
	__u64 sum = (__u16)~hc;
#pragma unroll
	for (int i = 0; i < 16; i += 2)
		sum += (__u16)~be16(old + i) + be16(new + i);
	return ~fold(sum);
}

// fixudp keeps a computed UDP checksum of 0 off the wire (RFC 768: zero
// is "none"), as frame's fixUDPZero.
static __always_inline __u16 fixudp(__u8 proto, __u16 c)
{
	return proto == IPPROTO_UDP && c == 0 ? 0xffff : c;
}

// setport writes newport into the port field at port, updating the
// transport checksum at cs (NULL: none).
static __always_inline void setport(__u8 *port, __u8 *cs, __u8 proto, __u16 newport)
{
	__u16 old = be16(port);
	if (old == newport)
		return;
	put16(port, newport);
	if (cs)
		put16(cs, fixudp(proto, update16(be16(cs), old, newport)));
}

// rewrite4 and rewrite6 replace the address at a (in the IPv4 header ip,
// or the IPv6 one) with addr and the port at port with newport, updating
// the IPv4 header checksum and the transport checksum at cs (NULL: a
// UDP/IPv4 datagram without one) in frame.Packet's rewrite's order.
static __always_inline void rewrite4(__u8 *ip, __u8 *a, __u8 *port, __u8 *cs, __u8 proto, const __u8 *addr,
				     __u16 newport)
{
	put16(ip + 10, update4(be16(ip + 10), a, addr));
	if (cs)
		put16(cs, fixudp(proto, update4(be16(cs), a, addr)));
	__builtin_memcpy(a, addr, 4);
	setport(port, cs, proto, newport);
}

static __always_inline void rewrite6(__u8 *a, __u8 *port, __u8 *cs, __u8 proto, const __u8 *addr, __u16 newport)
{
	if (cs)
		put16(cs, fixudp(proto, update16s(be16(cs), a, addr)));
	__builtin_memcpy(a, addr, 16);
	setport(port, cs, proto, newport);
}

// fast_ok says whether a packet may take the fast path at all (the switch
// is on, it is whole, cannot change its connection's state and carries a
// complete checksum), and sets *cs to its transport checksum field (NULL
// for a UDP/IPv4 datagram without one).
static __always_inline int fast_ok(struct addr *src, struct addr *dst, __u8 proto, __u8 *h, void *end,
				   struct pkt *pk, __u8 **cs)
{
	__u32 zero = 0;
	__u32 *on = bpf_map_lookup_elem(&fast_on, &zero);
	if (!on || !*on || !pk->whole)
		return 0;
	if (proto == IPPROTO_TCP) {
		if ((void *)(h + 20) > end || (h[13] & 0x07)) // FIN, SYN, RST
			return 0;
		*cs = h + 16;
	} else if (proto == IPPROTO_UDP) {
		if ((void *)(h + 8) > end)
			return 0;
		*cs = h + 6;
	} else {
		return 0;
	}
	__u16 csum = be16(*cs);
	if (csum == pseudo_sum(src, dst, proto, pk))
		return 0; // a partial checksum: user space completes it
	if (proto == IPPROTO_UDP && csum == 0 && !pk->v6)
		*cs = 0;
	return 1;
}

// key_of is the flows and replies maps' key of a packet: its addresses,
// ports (at h) and protocol.
static __always_inline void key_of(struct flow_key *k, struct addr *src, struct addr *dst, __u8 *h, __u8 proto)
{
	__builtin_memset(k, 0, sizeof(*k));
	__builtin_memcpy(k->src, src->a, 16);
	__builtin_memcpy(k->dst, dst->a, 16);
	__builtin_memcpy(&k->sport, h, 2);
	__builtin_memcpy(&k->dport, h + 2, 2);
	k->proto = proto;
}

// stamp notes a fast-path packet's time in a flow's seen. A write per
// packet dirties the entry's cache line: once a millisecond at most (user
// space reads it in seconds).
static __always_inline void stamp(__u64 *seen)
{
	__u64 now = bpf_ktime_get_ns();
	if (now - *seen > 1000000)
		*seen = now;
}

// leave sends the frame back out by XDP_TX from smac to dmac, notes the
// flow's time in seen and counts the packet for real server real: to it,
// or (out) from it, a NAT reply.
static __always_inline int leave(struct xdp_md *ctx, void *end, const __u8 *dmac, const __u8 *smac, __u64 *seen,
				 __u32 real, int out, struct pkt *pk)
{
	__u8 *data = (void *)(long)ctx->data;
	if ((void *)(data + 12) > end)
		return -1;
	__builtin_memcpy(data, dmac, 6);
	__builtin_memcpy(data + 6, smac, 6);
	stamp(seen);
	struct real_count *c = bpf_map_lookup_elem(&real_stats, &real);
	if (c) {
		if (out) {
			c->out_pkts += 1;
			c->out_bytes += pk->iplen;
		} else {
			c->pkts += 1;
			c->bytes += pk->iplen;
		}
	}
	count(STAT_FAST);
	return XDP_TX;
}

// fast forwards an established connection's packet from the client, or
// returns -1 for the socket to have it.
static __always_inline int fast(struct xdp_md *ctx, struct addr *src, struct addr *dst, __u8 proto, void *l4,
				void *end, struct pkt *pk)
{
	__u8 *h = l4, *cs;
	if (!fast_ok(src, dst, proto, h, end, pk, &cs))
		return -1;
	struct flow_key k;
	key_of(&k, src, dst, h, proto);
	struct flow *f = bpf_map_lookup_elem(&flows, &k);
	if (!f)
		return -1;
	__u32 real = f->real;
	struct real_hop *hop = bpf_map_lookup_elem(&reals, &real);
	if (!hop || hop->ifindex == 0 || hop->ifindex != ctx->ingress_ifindex)
		return -1;
	__u8 *data = (void *)(long)ctx->data;
	if (f->nat) {
		// The IP header follows the Ethernet one (tagged frames pass).
		__u8 *ip = data + ETH_HLEN;
		if (pk->v6) {
			if ((void *)(ip + 40) > end)
				return -1;
			rewrite6(ip + 24, h + 2, cs, proto, f->raddr, bpf_ntohs(f->rport));
		} else {
			if ((void *)(ip + 20) > end)
				return -1;
			rewrite4(ip, ip + 16, h + 2, cs, proto, f->raddr + 12, bpf_ntohs(f->rport));
		}
	}
	return leave(ctx, end, hop->dst, hop->src, &f->seen, real, 0, pk);
}

// fast_reply forwards a NAT real server's reply on an established
// connection to the client, from the VIP, or returns -1 for the socket to
// have it.
static __always_inline int fast_reply(struct xdp_md *ctx, struct addr *src, struct addr *dst, __u8 proto,
				      void *l4, void *end, struct pkt *pk)
{
	__u8 *h = l4, *cs;
	if (!fast_ok(src, dst, proto, h, end, pk, &cs))
		return -1;
	struct flow_key k;
	key_of(&k, src, dst, h, proto);
	struct reply *r = bpf_map_lookup_elem(&replies, &k);
	if (!r)
		return -1;
	__u8 *data = (void *)(long)ctx->data;
	__u8 *ip = data + ETH_HLEN;
	// frame.Packet's DecTTL, then SetSrc, then SetMACs; a TTL that runs
	// out is user space's to count (ttl_exceeded).
	if (!pk->v6) {
		if ((void *)(ip + 20) > end || ip[8] <= 1)
			return -1;
		__u16 old = be16(ip + 8);
		ip[8]--;
		put16(ip + 10, update16(be16(ip + 10), old, be16(ip + 8)));
		rewrite4(ip, ip + 12, h, cs, proto, r->vaddr + 12, bpf_ntohs(r->vport));
	} else {
		if ((void *)(ip + 40) > end || ip[7] <= 1)
			return -1;
		ip[7]--;
		rewrite6(ip + 8, h, cs, proto, r->vaddr, bpf_ntohs(r->vport));
	}
	return leave(ctx, end, r->dmac, r->smac, &r->seen, r->real, 1, pk);
}

// classify decides for an IP packet whose addresses are in src and dst
// (16 bytes each), protocol proto, with its transport header at l4 (NULL
// for a later fragment).
static __always_inline int classify(struct xdp_md *ctx, struct addr *src, struct addr *dst, __u8 proto,
				    void *l4, void *end, struct pkt *pk)
{
	// The map values, not the pointers: the verifier refuses the "vip |
	// nat" that clang makes of a test of two pointers.
	__u8 vip = 0, nat = 0;
	__u8 *v = bpf_map_lookup_elem(&vips, dst);
	if (v)
		vip = *v;
	v = bpf_map_lookup_elem(&nat_addrs, src);
	if (v)
		nat = *v;
	if (!vip && !nat)
		return pass();
	if (!l4) {
		// A later fragment: no ports.
		__u8 bit = frag_bit(proto);
		if (vip & bit)
			return steer(ctx);
		if ((nat & bit) && !bpf_map_lookup_elem(&locals, dst))
			return steer(ctx);
		return pass();
	}
	if (proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6) {
		__u8 *t = l4;
		if ((void *)(t + 1) > end || !is_icmp_error(proto, *t))
			return pass();
		if (vip)
			return steer(ctx);
		if (!bpf_map_lookup_elem(&locals, dst))
			return steer(ctx);
		return pass();
	}
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP && proto != IPPROTO_SCTP)
		return pass();
	__u16 *ports = l4;
	if ((void *)(ports + 2) > end)
		return pass();
	struct tuple k = {};
	k.proto = proto;
	if (vip) {
		__builtin_memcpy(k.addr, dst->a, 16);
		k.port = ports[1];
		int hit = bpf_map_lookup_elem(&services, &k) != 0;
		if (!hit) {
			k.port = 0;
			hit = bpf_map_lookup_elem(&services, &k) != 0;
		}
		if (hit) {
			int v = fast(ctx, src, dst, proto, l4, end, pk);
			if (v >= 0)
				return v;
			return steer(ctx);
		}
	}
	if (nat) {
		__builtin_memcpy(k.addr, src->a, 16);
		k.port = ports[0];
		int hit = bpf_map_lookup_elem(&nat_reals, &k) != 0;
		if (!hit) {
			k.port = 0;
			hit = bpf_map_lookup_elem(&nat_reals, &k) != 0;
		}
		if (hit && !bpf_map_lookup_elem(&locals, dst)) {
			int v = fast_reply(ctx, src, dst, proto, l4, end, pk);
			if (v >= 0)
				return v;
			return steer(ctx);
		}
	}
	return pass();
}

struct ip4 {
	__u8 vihl, tos;
	__be16 len, id, frag;
	__u8 ttl, proto;
	__be16 check;
	__be32 src, dst;
};

struct ip6 {
	__be32 vtf;
	__be16 len;
	__u8 next, hops;
	__u8 src[16], dst[16];
};

SEC("xdp")
int ulvs_steer(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end || (eth->h_dest[0] & 1))
		return pass();
	struct addr src, dst;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct ip4 *ip = (void *)(eth + 1);
		if ((void *)(ip + 1) > end || (ip->vihl >> 4) != 4 || (ip->vihl & 0xf) < 5)
			return pass();
		map4(src.a, ip->src);
		map4(dst.a, ip->dst);
		void *l4 = (void *)ip + (ip->vihl & 0xf) * 4;
		__u16 frag = bpf_ntohs(ip->frag);
		if (frag & 0x1fff)
			l4 = 0;
		struct pkt pk = {.iplen = bpf_ntohs(ip->len), .whole = !(frag & 0x3fff)};
		pk.l4len = pk.iplen - (ip->vihl & 0xf) * 4;
		return classify(ctx, &src, &dst, ip->proto, l4, end, &pk);
	}
	if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ip6 *ip = (void *)(eth + 1);
		if ((void *)(ip + 1) > end)
			return pass();
		__builtin_memcpy(src.a, ip->src, 16);
		__builtin_memcpy(dst.a, ip->dst, 16);
		__u8 next = ip->next;
		void *l4 = ip + 1;
		struct pkt pk = {.iplen = 40 + bpf_ntohs(ip->len), .whole = 1, .v6 = 1};
		__u32 ext = 0;
		// Hop-by-hop, routing and destination options, then a fragment
		// header: as far as nft's meta l4proto looks.
#pragma unroll
		for (int i = 0; i < 4; i++) {
			if (next == 0 || next == 43 || next == 60) {
				__u8 *h = l4;
				if ((void *)(h + 2) > end)
					return pass();
				next = h[0];
				ext += (h[1] + 1) * 8;
				l4 = (void *)h + (h[1] + 1) * 8;
				continue;
			}
			if (next == 44) {
				__u8 *h = l4;
				if ((void *)(h + 8) > end)
					return pass();
				next = h[0];
				__u16 off = ((__u16)h[2] << 8 | h[3]) & 0xfff8;
				l4 = (void *)h + 8;
				ext += 8;
				pk.whole = 0;
				if (off)
					return classify(ctx, &src, &dst, next, 0, end, &pk);
				continue;
			}
			break;
		}
		pk.l4len = bpf_ntohs(ip->len) - ext;
		return classify(ctx, &src, &dst, next, l4, end, &pk);
	}
	return pass();
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
