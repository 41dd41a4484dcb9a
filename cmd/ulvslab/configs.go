package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// defaultSeeds is where the user's seed configs sit beside a checkout.
const defaultSeeds = "../shared/seed-configs"

func runConfigs(_ *globals, args []string, out *printer) error {
	fs := flags("configs")
	brief := fs.Bool("brief", false, "one line per file")
	if err := parse(fs, args); err != nil {
		return err
	}
	dir := defaultSeeds
	if fs.NArg() > 1 {
		return usagef("one directory at most")
	}
	if fs.NArg() == 1 {
		dir = fs.Arg(0)
	}
	return showConfigs(dir, *brief, out)
}

// showConfigs runs `ulvsd -t` and `ulvsd --describe` over every *.conf in
// dir: what ulvsd reads in a user's files, exactly as keepalived reads them.
func showConfigs(dir string, brief bool, out *printer) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.conf"))
	if err != nil || len(files) == 0 {
		return fmt.Errorf("ulvslab: no *.conf files in %s", dir)
	}
	st := &state{}
	if err := findBins(st); err != nil {
		return err
	}
	run := func(args ...string) (string, string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, st.Bins.Ulvsd, args...)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		return stdout.String(), stderr.String(), err
	}
	for _, f := range files {
		name := filepath.Base(f)
		_, diag, err := run("-t", "-f", f)
		warnings := strings.Count(diag, "warning")
		if err != nil {
			first := strings.SplitN(strings.TrimSpace(diag), "\n", 2)[0]
			if brief {
				out.line("    %-42s would NOT run: %s", name, first)
				continue
			}
			out.line("%s== %s: ulvsd -t: would NOT run%s", out.bold, name, out.plain)
			out.block(diag)
			continue
		}
		if brief {
			out.line("    %-42s would run (%d warnings)", name, warnings)
			continue
		}
		out.line("%s== %s: ulvsd -t: would run (%d warnings)%s", out.bold, name, warnings, out.plain)
		desc, _, err := run("--describe", "-f", f)
		if err != nil {
			out.line("    (ulvsd --describe: %v)", err)
			continue
		}
		out.block(desc)
		out.line("")
	}
	if _, err := os.Stat(filepath.Join(dir, "README.md")); err == nil && !brief {
		out.line("(what each file is, and which must fail: %s)", filepath.Join(dir, "README.md"))
	}
	return nil
}
