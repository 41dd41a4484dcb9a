package ipvs

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"

	"github.com/ulvs/ulvs/forward"
)

// Generic netlink IPVS commands and attributes for the sync daemon
// (include/uapi/linux/ip_vs.h); moby/ipvs does not expose them.
const (
	ipvsCmdNewDaemon  = 9
	ipvsCmdDelDaemon  = 10
	ipvsCmdAttrDaemon = 3

	daemonAttrState      = 1 // u32: IP_VS_STATE_MASTER 1, IP_VS_STATE_BACKUP 2
	daemonAttrMcastIfn   = 2 // string
	daemonAttrSyncID     = 3 // u32
	daemonAttrSyncMaxlen = 4 // u16
	daemonAttrMcastGroup = 5 // be32
	daemonAttrMcastGrp6  = 6 // in6_addr
	daemonAttrMcastPort  = 7 // be16
	daemonAttrMcastTTL   = 8 // u8

	ipvsGenlVersion = 1
)

// daemonStates are the kernel's IP_VS_STATE_MASTER (1) and _BACKUP (2)
// daemons a role runs: both is the two, started and stopped one by one (the
// kernel takes one state per IPVS_CMD_NEW_DAEMON).
func daemonStates(role forward.SyncRole) []uint32 {
	var out []uint32
	if role.Sends() {
		out = append(out, 1)
	}
	if role.Receives() {
		out = append(out, 2)
	}
	return out
}

// startDaemon starts the kernel's sync daemons of the role (ipvsadm
// --start-daemon master, backup, or both); if the second fails, the first
// is stopped again.
func (k *nlKernel) startDaemon(role forward.SyncRole, cfg forward.SyncConfig) error {
	states := daemonStates(role)
	for i, st := range states {
		if err := startDaemonState(st, cfg); err != nil {
			for _, done := range states[:i] {
				_ = daemonCmd(ipvsCmdDelDaemon, func(d *nl.RtAttr) { d.AddRtAttr(daemonAttrState, nl.Uint32Attr(done)) })
			}
			return err
		}
	}
	return nil
}

func startDaemonState(state uint32, cfg forward.SyncConfig) error {
	return daemonCmd(ipvsCmdNewDaemon, func(d *nl.RtAttr) {
		d.AddRtAttr(daemonAttrState, nl.Uint32Attr(state))
		d.AddRtAttr(daemonAttrMcastIfn, nl.ZeroTerminated(cfg.Interface))
		d.AddRtAttr(daemonAttrSyncID, nl.Uint32Attr(uint32(cfg.SyncID)))
		if cfg.MaxLen > 0 {
			d.AddRtAttr(daemonAttrSyncMaxlen, nl.Uint16Attr(uint16(cfg.MaxLen)))
		}
		if g := cfg.Group; g.Is4() {
			a := g.As4()
			d.AddRtAttr(daemonAttrMcastGroup, a[:])
		} else if g.Is6() {
			a := g.As16()
			d.AddRtAttr(daemonAttrMcastGrp6, a[:])
		}
		if cfg.Port > 0 {
			d.AddRtAttr(daemonAttrMcastPort, binary.BigEndian.AppendUint16(nil, uint16(cfg.Port)))
		}
		if cfg.TTL > 0 {
			d.AddRtAttr(daemonAttrMcastTTL, []byte{uint8(cfg.TTL)})
		}
	})
}

// stopDaemon stops the kernel's sync daemons of that role.
func (k *nlKernel) stopDaemon(role forward.SyncRole) error {
	var errs []error
	for _, st := range daemonStates(role) {
		errs = append(errs, daemonCmd(ipvsCmdDelDaemon, func(d *nl.RtAttr) {
			d.AddRtAttr(daemonAttrState, nl.Uint32Attr(st))
		}))
	}
	return errors.Join(errs...)
}

func daemonCmd(cmd uint8, attrs func(*nl.RtAttr)) error {
	fam, err := netlink.GenlFamilyGet("IPVS")
	if err != nil {
		return fmt.Errorf("forward/ipvs: sync daemon: %w", err)
	}
	req := nl.NewNetlinkRequest(int(fam.ID), unix.NLM_F_ACK)
	req.AddData(&nl.Genlmsg{Command: cmd, Version: ipvsGenlVersion})
	d := nl.NewRtAttr(ipvsCmdAttrDaemon|unix.NLA_F_NESTED, nil)
	attrs(d)
	req.AddData(d)
	if _, err := req.Execute(unix.NETLINK_GENERIC, 0); err != nil {
		return fmt.Errorf("forward/ipvs: sync daemon: %w", mapErr(err))
	}
	return nil
}
