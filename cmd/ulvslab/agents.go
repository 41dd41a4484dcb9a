package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/ulvs/ulvs/forward/tunnel"
)

// runServe is the built-in HTTP server the lab starts on a node when nginx
// is not installed: every path answers 200 with the node's name, as the
// lab's nginx does.
func runServe(_ *globals, args []string, out *printer) error {
	fs := flags("serve")
	name := fs.String("name", "", "the name to answer with")
	ports := fs.IntSlice("port", []int{80}, "TCP port to listen on (repeatable)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *name == "" {
		return usagef("--name is required")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	body := []byte(*name + "\n")
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write(body)
	})
	errc := make(chan error, len(*ports))
	var srvs []*http.Server
	for _, p := range *ports {
		ln, err := net.Listen("tcp", ":"+strconv.Itoa(p))
		if err != nil {
			return fmt.Errorf("ulvslab serve: %w", err)
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
		srvs = append(srvs, srv)
		go func() { errc <- srv.Serve(ln) }()
	}
	out.line("serving %q on ports %v", *name, *ports)
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("ulvslab serve: %w", err)
		}
	}
	for _, s := range srvs {
		_ = s.Close()
	}
	return nil
}

// runDecap runs forward/tunnel's decapsulator until SIGTERM: a TUN real
// server's stand-in for the ipip module this kernel lacks.
func runDecap(_ *globals, args []string, _ *printer) error {
	fs := flags("decap")
	if err := parse(fs, args); err != nil {
		return err
	}
	log, err := zap.NewDevelopment()
	if err != nil {
		return fmt.Errorf("ulvslab decap: %w", err)
	}
	defer func() { _ = log.Sync() }()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return tunnel.Run(ctx, tunnel.Config{Logger: log})
}
