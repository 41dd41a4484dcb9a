// Package nodeipvs exports ulvs's virtual-server table as node_exporter's
// ipvs collector exports the kernel's, so that IPVS dashboards and alerts
// built on node_ipvs_* work unchanged where ulvs forwards in userspace
// (there is no /proc/net/ip_vs for node_exporter to read there).
//
// The families, their types, help and labels are node_exporter's:
//
//	node_ipvs_connections_total              counter  (/proc/net/ip_vs_stats)
//	node_ipvs_incoming_packets_total         counter
//	node_ipvs_outgoing_packets_total         counter
//	node_ipvs_incoming_bytes_total           counter
//	node_ipvs_outgoing_bytes_total           counter
//	node_ipvs_backend_connections_active     gauge    (/proc/net/ip_vs, per real server)
//	node_ipvs_backend_connections_inactive   gauge
//	node_ipvs_backend_weight                 gauge
//
// with labels local_address, local_port, remote_address, remote_port,
// proto and local_mark, their values as github.com/prometheus/procfs reads
// them from /proc/net/ip_vs (a fwmark service: local_address "",
// local_port "0", proto "FWM", local_mark the mark as the kernel prints it,
// eight upper-case hex digits). test/node_ipvs_test.go compares the output
// with node_exporter's on a Linux kernel's IPVS for the same services and
// traffic.
//
// Differences, on purpose: the totals are the sum of the services' counters
// plus what services since deleted or zeroed had counted, so they never go
// down (the kernel's totals are its own counters, which `ipvsadm -Z` resets;
// what a service counted after the last scrape before its deletion is lost
// here). SCTP services are left out: procfs does not read them (it would
// file their real servers under the service before).
package nodeipvs
