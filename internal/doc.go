// Package internal holds the pieces of ulvs that are not a subsystem of
// their own (docs/architecture.md draws the rooms):
//
//   - plan: the translation of a keepalived configuration (and of the BGP
//     file) into each subsystem's Config, run at start-up, on reload and by
//     ulvsd -t;
//   - lvs: the forwarding reconciler between the configuration, health,
//     VRRP, ulvsadm and a forward.Backend;
//   - ctl: the control protocol between ulvsd and ulvsadm;
//   - ipvsfmt: ipvsadm's exact text formats over ctl's views;
//   - nodeipvs: node_exporter's node_ipvs_* families over ctl's views;
//   - kacompat: keepalived's outside contract (-v, --signum, the dump
//     files and the JSON dump's shape);
//   - canserve: whether this director can serve, from probes it is given;
//   - netcap: listeners with a connection cap, and the descriptor budget
//     that sizes them;
//   - manpage: man(7) pages from the commands' flag sets;
//   - notify: notify FIFOs and smtp_alert mail, shared by VRRP and the
//     checkers;
//   - script: the script runner with keepalived's script security rules;
//   - topo (and topo/topotest): netns topologies for tests and the lab;
//   - vm: a Linux kernel under QEMU, to test kernel IPVS;
//   - testkit: the test helpers every package shares;
//   - deptest: the import rules of the repository, as a test.
package internal
