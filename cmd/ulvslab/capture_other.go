//go:build !linux

package main

import (
	"errors"
	"runtime"
	"time"
)

// capture needs Linux AF_PACKET sockets.
type capture struct{}

func startCapture(string, []string) (*capture, error) {
	return nil, errors.New("ulvslab: capture needs Linux, not " + runtime.GOOS)
}

func (c *capture) quiet(time.Duration, time.Duration) {}

func (c *capture) stop() [][]seen { return nil }
