// Package lvs is ulvsd's forwarding reconciler: it turns what the daemon
// wants into calls on a forward.Backend, the way keepalived's checker
// process drives IPVS.
//
//   - Configuration → services: Reconciler.Apply makes the backend's
//     virtual services those of the configuration (added, updated in place
//     keeping their connections, deleted), and puts back the real servers
//     health chose, undoing runtime edits made with ulvsadm.
//   - Health → real servers: the Reconciler is the health.Sink; health's
//     pool decisions (add, update, remove a destination) become AddReal,
//     UpdateReal and DeleteReal on every backend service of that
//     virtual_server (a virtual_server_group gives several).
//   - VRRP → forwarding: Own and Follow enable the services of an address a
//     VRRP instance owns only while it is master (userspace backend only:
//     its tap sees frames whatever the kernel owns; kernel IPVS sees only
//     packets to local addresses, so keepalived leaves a backup's services
//     in place, and so does ulvs with --backend ipvs). Sync makes
//     lvs_sync_daemon follow its instance.
//   - ulvsadm: View and Conns are the tables ulvsadm reads (counters from
//     the last -Z), Edit applies ipvsadm's runtime edits until the next
//     reload.
//
// The package knows neither keepalived.conf nor sockets: package plan
// translates the configuration into Services, and cmd/ulvsd wires the
// Reconciler to health, VRRP and the control socket. Its tests drive a
// recording Backend through lists of states.
package lvs
