// Package conntab holds the data path's connection and persistence tables
// with IPVS's semantics (net/netfilter/ipvs/ip_vs_conn.c): entries keyed by
// protocol and the client's address and port, found from both directions of
// a NAT connection, per-protocol state machines and timeouts
// (ip_vs_proto_tcp.c's INPUT, OUTPUT and INPUT_ONLY tables), and persistence
// templates that cannot expire while they control connections.
//
// A Table is split into shards, each with its own mutex, buckets, entry slab,
// free list and timer wheel, so workers on several cores rarely meet. Entries
// are packed, pointer-free structs (about 100 bytes; kernel IPVS spends about
// 320) addressed by 32-bit indexes, so a million connections cost the garbage
// collector nothing to scan. The table is bounded: when a shard is full a new
// entry evicts a connection that is not established (as nf_conntrack's
// early_drop does) or, failing that, is refused and counted.
//
// Timers are lazy: a packet only moves an entry's expiry time; the wheel
// visits each slot once per turn and re-files entries whose time moved on.
// Time is a coarse tick (TicksPerSecond) that the caller reads once per batch.
//
// Both directions of a NAT connection hash to the same bucket (the hash
// covers only the protocol and the client's address and port, as IPVS's
// ip_vs_conn_hashkey_param does), so one shared table serves every worker
// whatever the PACKET_FANOUT hash put the reply on.
//
// Left out: connection synchronisation between directors (IPVS's sync
// daemon); the SCTP state machine is a reduced form of ip_vs_proto_sctp.c's
// (see SCTPTransition).
package conntab
