package health

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ulvs/ulvs/internal/script"
)

// miscProber is MISC_CHECK: run the script; exit 0 passes, and with
// misc_dynamic exit 2..255 passes with weight status-2 (check_misc.c).
type miscProber struct {
	s       *script.Script
	timeout time.Duration
	dynamic bool
}

func (p *miscProber) steps() int { return 1 }

func (p *miscProber) probe(ctx context.Context, _ int) outcome {
	res := p.s.Run(ctx, p.timeout)
	name := p.s.Argv[0]
	switch {
	case res.Err != nil:
		return failed(fmt.Sprintf("Misc check for [%s] failed: %v", name, res.Err))
	case res.TimedOut:
		return failed(fmt.Sprintf("Misc check for [%s] timed out", name))
	case res.ExitCode == 0:
		return passed(fmt.Sprintf("Misc check for [%s] succeeded", name))
	case p.dynamic && res.ExitCode >= 2 && res.ExitCode <= 255:
		o := passed(fmt.Sprintf("Misc check for [%s] succeeded (weight %d)", name, res.ExitCode-2))
		o.weight, o.hasWeight = int64(res.ExitCode-2), true
		return o
	case res.ExitCode < 0:
		return failed(fmt.Sprintf("Misc check for [%s] failed (due to signal)", name))
	default:
		return failed(fmt.Sprintf("Misc check for [%s] failed (exited with status %d)", name, res.ExitCode))
	}
}

// buildMisc is MISC_CHECK's row of kinds: its target is the script.
func buildMisc(a *probeArgs) (prober, error) {
	s, err := a.r.prepare(a.cfg, a.chk.Misc.Script, RSKey(a.rc.Addr), "misc_path")
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, errors.New("MISC_CHECK without misc_path")
	}
	timeout := a.chk.Misc.Timeout
	if timeout <= 0 {
		timeout = a.t.delayLoop
	}
	a.c.name = a.kind + " " + s.Argv[0]
	a.c.spec.dynamic = a.chk.Misc.Dynamic
	return &miscProber{s: s, timeout: timeout, dynamic: a.chk.Misc.Dynamic}, nil
}
