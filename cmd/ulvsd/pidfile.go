package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// writePidFiles writes this process's pid into each file, refusing when a
// file names a live process (another ulvsd or keepalived). keepalived's
// three pid files (-p, -r, -c) all get ulvsd's pid: it is one process, and
// scripts that signal any of them reach it.
func writePidFiles(paths ...string) (func(), error) {
	var written []string
	cleanup := func() {
		for _, p := range written {
			if b, err := os.ReadFile(p); err == nil && strings.TrimSpace(string(b)) == strconv.Itoa(os.Getpid()) {
				os.Remove(p)
			}
		}
	}
	for _, p := range paths {
		if p == "" {
			continue
		}
		if pid, alive := pidAlive(p); alive && pid != os.Getpid() {
			cleanup()
			return nil, fmt.Errorf("pid file %s names a running process (%d): is another daemon running?", p, pid)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			cleanup()
			return nil, err
		}
		if err := os.WriteFile(p, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			cleanup()
			return nil, fmt.Errorf("pid file: %w", err)
		}
		written = append(written, p)
	}
	return cleanup, nil
}

// pidAlive reads a pid file and reports whether its process exists.
func pidAlive(path string) (int, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, false
	}
	err = syscall.Kill(pid, 0)
	return pid, err == nil || errors.Is(err, syscall.EPERM)
}
