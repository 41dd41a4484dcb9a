package ipvs

import (
	"encoding/binary"
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

func daemonState(role forward.SyncRole) uint32 {
	if role == forward.SyncMaster {
		return 1
	}
	return 2
}

// startDaemon starts the kernel's sync daemon (ipvsadm --start-daemon).
func (k *nlKernel) startDaemon(role forward.SyncRole, cfg forward.SyncConfig) error {
	return daemonCmd(ipvsCmdNewDaemon, func(d *nl.RtAttr) {
		d.AddRtAttr(daemonAttrState, nl.Uint32Attr(daemonState(role)))
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

// stopDaemon stops the kernel's sync daemon of that role.
func (k *nlKernel) stopDaemon(role forward.SyncRole) error {
	return daemonCmd(ipvsCmdDelDaemon, func(d *nl.RtAttr) {
		d.AddRtAttr(daemonAttrState, nl.Uint32Attr(daemonState(role)))
	})
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
