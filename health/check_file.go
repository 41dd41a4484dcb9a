package health

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"time"
)

// defaultFileInterval is how often a FILE_CHECK reads its file.
const defaultFileInterval = time.Second

// buildFile is FILE_CHECK's row of kinds: it reads its file at once (its
// value weighs on the real server from the start), and has no warmup.
func buildFile(a *probeArgs) (prober, error) {
	if a.chk.File.Path == "" {
		return nil, errors.New("FILE_CHECK has no track_file")
	}
	f := a.chk.File
	if f.Interval <= 0 {
		f.Interval = defaultFileInterval
	}
	a.c.name = a.kind + " " + f.Path
	a.c.spec.file = &f
	a.c.spec.t.warmup = 0
	fp := &fileProber{path: f.Path}
	a.c.last = fp.read()
	return fp, nil
}

// fileProber reads a tracked file's number.
type fileProber struct{ path string }

func (p *fileProber) steps() int { return 1 }

func (p *fileProber) probe(context.Context, int) outcome { return p.read() }

func (p *fileProber) read() outcome {
	b, err := os.ReadFile(p.path)
	if err != nil {
		// keepalived takes a missing or unreadable file as 0.
		return outcome{ok: true, reason: "track_file " + p.path + ": " + err.Error()}
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return outcome{ok: true, reason: "track_file " + p.path + " is empty"}
	}
	v, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return outcome{ok: true, reason: "track_file " + p.path + ": not a number: " + f[0]}
	}
	return outcome{ok: true, value: v, reason: "track_file " + p.path + " = " + f[0]}
}
