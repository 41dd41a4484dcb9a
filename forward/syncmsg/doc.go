// Package syncmsg encodes and decodes the messages of IPVS's connection
// synchronisation protocol, version 1 (net/netfilter/ipvs/ip_vs_sync.c):
// the datagrams a master director multicasts (224.0.0.81:8848 by default)
// so that its backups hold the same connections and persistence
// templates, and a failover keeps established connections on their real
// servers. Kernel IPVS and ulvs speak the same bytes.
//
// A message is an 8-byte header (0, sync ID, size, connection count,
// version 1, 0) and its connections: 36 bytes each for IPv4, 72 for IPv6,
// followed by options (sequence adjustments, persistence engine data) that
// ulvs skips on reading and never sends. Version 0 messages (a header whose
// first byte is the count) are refused.
//
// The package only handles bytes: sockets and tables are forward's.
package syncmsg
