package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"go.uber.org/zap"

	"github.com/ulvs/ulvs/conf"
	"github.com/ulvs/ulvs/internal/ctl"
	"github.com/ulvs/ulvs/internal/kacompat"
	"github.com/ulvs/ulvs/internal/plan"
)

// daemonEnv marks the detached child of a daemonizing ulvsd.
const daemonEnv = "ULVSD_DETACHED"

// runDaemon runs ulvsd: VRRP, checkers and forwarding from the
// configuration file, until SIGTERM or SIGINT.
func runDaemon(o *options, stdout, stderr io.Writer) int {
	res, err := conf.Read(o.configFile, loadOptions(o))
	if res == nil {
		fmt.Fprintf(stderr, "ulvsd: %v\n", err)
		return 1
	}
	var p *plan.Plan
	var bgp *conf.BGP
	var bgpVSS [][]*conf.VirtualServer
	var ecmpNotes []string
	if err == nil && o.bgpFile != "" {
		var diags conf.Diagnostics
		if bgp, bgpVSS, diags, err = loadBGP(o, res.Config); err != nil {
			fmt.Fprint(stderr, diags.Errors())
			fmt.Fprintf(stderr, "ulvsd: %v; not starting (check it with ulvsd -t --bgp %s)\n", err, o.bgpFile)
			return 1
		}
		// Before the translation: ECMP changes what the virtual servers run.
		ecmpNotes = plan.ECMPAdjust(bgp, bgpVSS, o.kernelIPVS())
		if plan.ECMP(bgp) && !o.sloppySet {
			o.sloppyTCP = true // ECMP: a mid-flow packet may reach any director
		}
	}
	if err == nil {
		var diags conf.Diagnostics
		p, diags = plan.Build(res.Config, o.planOptions())
		res.Diags = append(res.Diags, diags...)
	}
	if err != nil || res.Diags.HasErrors() {
		writeDiags(stderr, o.configFile, res.Diags.Errors())
		fmt.Fprintf(stderr, "ulvsd: %s has errors; not starting (check it with ulvsd -t)\n", o.configFile)
		return 1
	}
	if ns := res.Config.Global.NetNamespace; ns != "" {
		// keepalived's net_namespace: the whole daemon runs inside
		// (enterNetNamespace executes ulvsd again there).
		if err := enterNetNamespace(ns); err != nil {
			fmt.Fprintf(stderr, "%s: error: %v\n", res.Config.Global.NetNamespacePos, err)
			return 1
		}
	}
	if !o.dontFork && os.Getenv(daemonEnv) == "" {
		// The daemon runs in /, so relative paths must be made absolute.
		args, err := absoluteArgs(o)
		if err != nil {
			fmt.Fprintf(stderr, "ulvsd: %v\n", err)
			return 1
		}
		return detach(args, stderr)
	}
	if o.umask != "" {
		m, err := strconv.ParseUint(o.umask, 8, 32)
		if err != nil || m > 0o777 {
			fmt.Fprintf(stderr, "ulvsd: -u %q: not an octal umask\n", o.umask)
			return 1
		}
		syscall.Umask(int(m))
	}
	log, closeLog, err := newLogger(o)
	if err != nil {
		fmt.Fprintf(stderr, "ulvsd: %v\n", err)
		return 1
	}
	defer closeLog()
	defer log.Sync() //nolint:errcheck
	logDiags(log, "configuration error", res.Diags)
	removePids, err := writePidFiles(o.pidFile, o.vrrpPidFile, o.checkPid)
	if err != nil {
		log.Error("not starting", zap.Error(err))
		fmt.Fprintf(stderr, "ulvsd: %v\n", err)
		return 1
	}
	defer removePids()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT, syscall.SIGUSR1, syscall.SIGUSR2,
		kacompat.SigJSON, kacompat.SigStatsClear)
	defer signal.Stop(sigs)

	startup, _ := plan.Lifecycle(res.Config)
	runLifecycleScript(log, "startup_script", startup)
	d := &daemon{o: o, log: log, ecmp: plan.ECMP(bgp)}
	defer func() {
		// keepalived runs shutdown_script once everything has stopped,
		// from the configuration in force.
		_, shutdown := plan.Lifecycle(d.currentConfig(res.Config))
		runLifecycleScript(log, "shutdown_script", shutdown)
	}()
	for _, n := range ecmpNotes {
		log.Info("ecmp", zap.String("note", n))
	}
	if d.ecmp {
		log.Info("ecmp: sloppy TCP", zap.Bool("on", o.sloppyTCP), zap.Bool("explicit", o.sloppySet))
	}
	err = d.start(ctx, p)
	if err == nil && bgp != nil {
		if err = d.startBGP(bgp, bgpVSS); err != nil {
			err = fmt.Errorf("bgp: %w", err)
		}
	}
	if err != nil {
		log.Error("not starting", zap.Error(err))
		fmt.Fprintf(stderr, "ulvsd: %v\n", err)
		d.stop()
		return 1
	}
	// A reader that signals and reads at once (as keepalived's exporters
	// do) finds complete dumps from the start, then each signal's own.
	d.dumpAll()
	bud := newBudget(log)
	ln, err := ctl.Listen(o.control)
	if err != nil {
		log.Error("control socket", zap.Error(err))
		fmt.Fprintf(stderr, "ulvsd: %v\n", err)
		d.stop()
		return 1
	}
	go func() {
		if err := (&ctl.Server{Handler: d, MaxConns: bud.Control, Logger: log.Named("ctl")}).Serve(ctx, ln); err != nil {
			log.Error("control socket stopped", zap.Error(err))
		}
	}()
	defer os.Remove(o.control)
	if o.metrics != "" {
		stopMetrics, err := serveMetrics(o.metrics, d, bud.Metrics, log)
		if err != nil {
			log.Error("metrics", zap.Error(err))
			fmt.Fprintf(stderr, "ulvsd: %v\n", err)
			d.stop()
			return 1
		}
		defer stopMetrics()
	}
	if o.logFacility != "" || o.noSyslog {
		log.Info("ulvsd logs to stderr (the journal under systemd), not syslog: -S and -G have no effect")
	}
	if o.addrMonitor {
		if err := monitorAddresses(ctx, log); err != nil {
			log.Warn("address monitoring (-a)", zap.Error(err))
		}
	}
	log.Info("ulvsd started", zap.String("version", version), zap.String("config", o.configFile),
		zap.Int("pid", os.Getpid()), zap.Strings("subsystems", d.status().Subsystems))

	// Reloads run beside the signal loop, one at a time, so that SIGTERM
	// is handled at once whatever a reload is reading; SIGHUPs that
	// arrive meanwhile make one more.
	reloads := make(chan struct{}, 1)
	go func() {
		for range reloads {
			log.Info("reloading", zap.String("signal", "SIGHUP"))
			if err := d.reload(); err != nil {
				log.Error("reload failed", zap.Error(err))
			}
		}
	}()
	for sig := range sigs {
		switch sig {
		case syscall.SIGHUP:
			select {
			case reloads <- struct{}{}:
			default:
				log.Info("a reload is already pending", zap.String("signal", "SIGHUP"))
			}
		case syscall.SIGUSR1:
			d.dumpFile(d.stateDumpPath(), d.writeData)
		case syscall.SIGUSR2:
			d.dumpFile(d.statsDumpPath(), d.writeStats)
		case kacompat.SigJSON:
			d.dumpFile(d.jsonDumpPath(), d.writeJSON)
		case kacompat.SigStatsClear:
			d.dumpFile(d.statsDumpPath(), d.writeStats)
			d.clearVRRPStats()
		case syscall.SIGTERM, syscall.SIGINT:
			log.Info("stopping", zap.String("signal", sig.String()))
			d.shutdownBGP()
			cancel()
			d.stop()
			log.Info("ulvsd stopped")
			return 0
		}
	}
	return 0
}

// detach starts ulvsd again as a daemon (a new session, no terminal) and
// returns at once, as keepalived forks unless -n.
func detach(args []string, stderr io.Writer) int {
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "ulvsd: %v\n", err)
		return 1
	}
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		fmt.Fprintf(stderr, "ulvsd: %v\n", err)
		return 1
	}
	defer null.Close()
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), daemonEnv+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = null, null, null
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(stderr, "ulvsd: cannot start the daemon: %v\n", err)
		return 1
	}
	return 0
}

// absoluteArgs rebuilds the command line with absolute file paths.
func absoluteArgs(o *options) ([]string, error) {
	abs := func(p string) (string, error) {
		if p == "" {
			return p, nil
		}
		return filepath.Abs(p)
	}
	var err error
	paths := []*string{&o.configFile, &o.pidFile, &o.vrrpPidFile, &o.checkPid, &o.control, &o.logFile, &o.bgpFile}
	for _, p := range paths {
		if *p, err = abs(*p); err != nil {
			return nil, err
		}
	}
	args := []string{"-f", o.configFile, "-p", o.pidFile, "-r", o.vrrpPidFile, "-c", o.checkPid,
		"--control", o.control, "--backend", o.backend}
	for _, b := range []struct {
		on   bool
		flag string
	}{{o.vrrpOnly, "-P"}, {o.checkOnly, "-C"}, {o.logConsole, "-l"}, {o.logDetail, "-D"}, {o.allConfig, "-e"},
		{o.dontRelVRRP, "-V"}, {o.dontRelIPVS, "-I"}, {o.addrMonitor, "-a"},
		{o.jsonLogs, "--log-json"}, {o.sloppyTCP, "--sloppy-tcp"}} {
		if b.on {
			args = append(args, b.flag)
		}
	}
	if o.logFile != "" {
		args = append(args, "--log-file="+o.logFile)
	}
	if o.configID != "" {
		args = append(args, "-i", o.configID)
	}
	if o.umask != "" {
		args = append(args, "-u", o.umask)
	}
	if o.metrics != "" {
		args = append(args, "--metrics", o.metrics, "--metrics-node-ipvs="+strconv.FormatBool(o.nodeIPVS))
	}
	if o.bgpFile != "" {
		args = append(args, "--bgp", o.bgpFile)
	}
	if o.sloppySet && !o.sloppyTCP {
		args = append(args, "--sloppy-tcp=false")
	}
	args = append(args, "--max-conns", strconv.Itoa(o.maxConns), "--cannot-serve", o.cannotServe,
		"--io", o.io, "--ring-version", strconv.Itoa(o.ringVersion))
	if o.xdpFast {
		args = append(args, "--xdp-fastpath")
	}
	if len(o.interfaces) > 0 {
		args = append(args, "--interfaces", strings.Join(o.interfaces, ","))
	}
	return args, nil
}
