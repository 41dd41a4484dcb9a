package canserve

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Probe looks at one thing the director needs to serve. Check returns ""
// when it is fine, else why not (a sentence for the log and the status).
type Probe interface {
	Name() string
	Check() string
}

// ProbeFunc adapts a function to Probe.
type ProbeFunc struct {
	ProbeName string
	Fn        func() string
}

// Name returns the probe's name.
func (p ProbeFunc) Name() string { return p.ProbeName }

// Check calls Fn.
func (p ProbeFunc) Check() string { return p.Fn() }

// Defaults of a Config.
const (
	DefaultInterval = time.Second
	// DefaultFailAfter rounds of failure make the director unable to
	// serve: one bad round can be a moment's peak.
	DefaultFailAfter = 2
	// DefaultClearAfter rounds without failure make it able again: a
	// director that flaps between states would move the VIP back and
	// forth.
	DefaultClearAfter = 5
)

// Config configures a Monitor.
type Config struct {
	Probes []Probe
	// Interval between rounds (default DefaultInterval).
	Interval time.Duration
	// FailAfter and ClearAfter are the rounds a verdict must hold before
	// it changes (defaults DefaultFailAfter, DefaultClearAfter).
	FailAfter, ClearAfter int
	// OnChange is called from the Monitor's goroutine when the verdict
	// changes: ok, and the reasons when not ok.
	OnChange func(ok bool, reasons []string)
}

// Monitor runs the probes and keeps the verdict.
type Monitor struct {
	cfg Config

	mu      sync.Mutex
	ok      bool
	reasons []string
	// streak counts the rounds whose verdict differs from ok.
	streak int
}

// New returns a Monitor that starts out able to serve.
func New(cfg Config) *Monitor {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.FailAfter <= 0 {
		cfg.FailAfter = DefaultFailAfter
	}
	if cfg.ClearAfter <= 0 {
		cfg.ClearAfter = DefaultClearAfter
	}
	return &Monitor{cfg: cfg, ok: true}
}

// Run probes every Interval until ctx ends.
func (m *Monitor) Run(ctx context.Context) {
	t := time.NewTicker(m.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			m.Round()
		}
	}
}

// Round runs every probe once and applies the result (Run calls it; tests
// call it directly).
func (m *Monitor) Round() {
	var reasons []string
	for _, p := range m.cfg.Probes {
		if why := p.Check(); why != "" {
			reasons = append(reasons, p.Name()+": "+why)
		}
	}
	good := len(reasons) == 0
	m.mu.Lock()
	var changed bool
	switch {
	case good == m.ok:
		m.streak = 0
		if !good {
			m.reasons = reasons // still failing: keep the latest why
		}
	default:
		m.streak++
		need := m.cfg.ClearAfter
		if !good {
			need = m.cfg.FailAfter
		}
		if m.streak >= need {
			m.ok, m.reasons, m.streak, changed = good, reasons, 0, true
		}
	}
	ok, rs := m.ok, slices.Clone(m.reasons)
	m.mu.Unlock()
	if changed && m.cfg.OnChange != nil {
		m.cfg.OnChange(ok, rs)
	}
}

// Status returns the verdict and, when not ok, why.
func (m *Monitor) Status() (ok bool, reasons []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ok, slices.Clone(m.reasons)
}
