//go:build !linux

package main

import (
	"fmt"
	"runtime"
)

func inNetNamespace(name string) (bool, error) {
	return false, fmt.Errorf("net_namespace %s: network namespaces are Linux only, not %s", name, runtime.GOOS)
}

func enterNetNamespace(name string) error {
	_, err := inNetNamespace(name)
	return err
}
