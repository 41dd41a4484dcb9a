package main

import (
	"context"
	"net"

	"github.com/vishvananda/netlink"
	"go.uber.org/zap"
)

// monitorAddresses logs every address added or removed in the namespace
// (keepalived's -a, --address-monitoring), until ctx ends.
func monitorAddresses(ctx context.Context, log *zap.Logger) error {
	updates := make(chan netlink.AddrUpdate, 64)
	done := make(chan struct{})
	if err := netlink.AddrSubscribe(updates, done); err != nil {
		return err
	}
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case u, ok := <-updates:
				if !ok {
					return
				}
				name := ""
				if ifi, err := net.InterfaceByIndex(u.LinkIndex); err == nil {
					name = ifi.Name
				}
				what := "address deleted"
				if u.NewAddr {
					what = "address added"
				}
				log.Info(what, zap.String("address", u.LinkAddress.String()), zap.String("interface", name))
			}
		}
	}()
	return nil
}
