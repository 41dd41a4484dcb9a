package main

import (
	"fmt"
	"io"
	"os"

	"github.com/ulvs/ulvs/conf"
	"github.com/ulvs/ulvs/internal/plan"
)

// configTest implements -t: start-up without its side effects. It loads
// the file, runs the translation start-up and reload run (plan.Build) and
// the machine checks, and prints every message as "FILE:LINE:
// error|warning|note: msg". The exit status is keepalived's
// (conf.Diagnostics.ExitStatus): 0 nothing reported, 4 the configuration
// would not run (or a file is missing), 5 problems it runs with (the ones
// keepalived reports too), 6 scripts without enable_script_security; ulvs's
// own warnings and notes leave it at 0. 1 is for a file that cannot be read.
func configTest(o *options, stdout, stderr io.Writer) int {
	res, err := conf.Read(o.configFile, loadOptions(o))
	if res == nil {
		fmt.Fprintf(stderr, "%s: error: %v\n", o.configFile, err)
		return 1
	}
	diags := append(conf.Diagnostics(nil), res.Diags...)
	if o.bgpFile != "" {
		b, vss, bd, err := loadBGP(o, res.Config)
		if bd == nil && err != nil {
			bd = conf.Diagnostics{{Pos: conf.Pos{File: o.bgpFile}, Severity: conf.Error, Msg: err.Error()}}
		}
		diags = append(diags, bd...)
		if b != nil && !bd.HasErrors() {
			plan.ECMPAdjust(b, vss, o.kernelIPVS()) // what ulvsd would run
		}
	}
	if !res.Diags.HasErrors() {
		_, pd := plan.Build(res.Config, o.planOptions())
		diags = append(diags, pd...)
	}
	if ns := res.Config.Global.NetNamespace; ns != "" {
		// As the daemon does: the machine checks below (interfaces) run
		// inside the namespace; one that does not exist is an error.
		if err := enterNetNamespace(ns); err != nil {
			diags = append(diags, conf.Diagnostic{Pos: res.Config.Global.NetNamespacePos, Severity: conf.Error, Msg: err.Error()})
		}
	}
	diags = append(diags, plan.SystemChecks(res.Config)...)
	out := stderr
	if o.testLog != "" {
		f, err := os.Create(o.testLog)
		if err != nil {
			fmt.Fprintf(stderr, "ulvsd: %v\n", err)
			return 1
		}
		defer f.Close()
		out = io.MultiWriter(stderr, f)
	}
	writeDiags(out, o.configFile, diags)
	status := diags.ExitStatus()
	switch {
	case diags.HasErrors():
	case status == conf.ExitOK:
		fmt.Fprintf(stdout, "%s: configuration OK (%d warnings)\n", o.configFile, len(diags))
	default:
		fmt.Fprintf(stdout, "%s: configuration runs, with the problems above (status %d, as keepalived -t)\n",
			o.configFile, status)
	}
	return status
}
