//go:build !linux

package main

import (
	"context"
	"errors"

	"go.uber.org/zap"
)

func monitorAddresses(context.Context, *zap.Logger) error {
	return errors.New("address monitoring needs Linux netlink")
}
