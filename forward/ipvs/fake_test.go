package ipvs

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ulvs/ulvs/forward"
)

// fakeKernel is an in-memory IPVS table with the kernel's answers: EEXIST
// for duplicates, ESRCH for a missing service, ENOENT for a missing
// destination, and destinations listed newest first.
type fakeKernel struct {
	svcs   []*fakeSvc
	tmo    [3]uint32
	closed bool
	// failAdd makes AddDest fail for this address (an unreachable kernel
	// state, to test error paths).
	failAdd string
}

type fakeSvc struct {
	s     kService
	dests []kDest
}

func (f *fakeKernel) find(s kService) *fakeSvc {
	for _, x := range f.svcs {
		if x.s.key() == s.key() {
			return x
		}
	}
	return nil
}

func (f *fakeKernel) AddService(s kService) error {
	if f.find(s) != nil {
		return fmt.Errorf("%w (file exists)", forward.ErrExists)
	}
	f.svcs = append(f.svcs, &fakeSvc{s: s})
	return nil
}

func (f *fakeKernel) UpdateService(s kService) error {
	x := f.find(s)
	if x == nil {
		return fmt.Errorf("%w (no such process)", forward.ErrNotFound)
	}
	x.s = s
	return nil
}

func (f *fakeKernel) DelService(s kService) error {
	x := f.find(s)
	if x == nil {
		return fmt.Errorf("%w (no such process)", forward.ErrNotFound)
	}
	f.svcs = slices.DeleteFunc(f.svcs, func(y *fakeSvc) bool { return y == x })
	return nil
}

func (x *fakeSvc) dest(d kDest) int {
	return slices.IndexFunc(x.dests, func(y kDest) bool { return y.Addr == d.Addr && y.Port == d.Port })
}

func (f *fakeKernel) AddDest(s kService, d kDest) error {
	x := f.find(s)
	switch {
	case x == nil:
		return fmt.Errorf("%w (no such process)", forward.ErrNotFound)
	case x.dest(d) >= 0:
		return fmt.Errorf("%w (file exists)", forward.ErrExists)
	case d.Addr.String() == f.failAdd:
		return fmt.Errorf("invalid argument")
	}
	x.dests = append([]kDest{d}, x.dests...) // list_add_rcu: at the head
	return nil
}

func (f *fakeKernel) UpdateDest(s kService, d kDest) error {
	x := f.find(s)
	if x == nil {
		return fmt.Errorf("%w (no such process)", forward.ErrNotFound)
	}
	i := x.dest(d)
	if i < 0 {
		return fmt.Errorf("%w (no such file or directory)", forward.ErrNotFound)
	}
	x.dests[i] = d
	return nil
}

func (f *fakeKernel) DelDest(s kService, d kDest) error {
	x := f.find(s)
	if x == nil {
		return fmt.Errorf("%w (no such process)", forward.ErrNotFound)
	}
	i := x.dest(d)
	if i < 0 {
		return fmt.Errorf("%w (no such file or directory)", forward.ErrNotFound)
	}
	x.dests = slices.Delete(x.dests, i, i+1)
	return nil
}

func (f *fakeKernel) Services() ([]kService, error) {
	var out []kService
	for _, x := range f.svcs {
		out = append(out, x.s)
	}
	return out, nil
}

func (f *fakeKernel) Dests(s kService) ([]kDest, error) {
	x := f.find(s)
	if x == nil {
		return nil, fmt.Errorf("%w (no such process)", forward.ErrNotFound)
	}
	return slices.Clone(x.dests), nil
}

func (f *fakeKernel) SetTimeouts(tcp, fin, udp uint32) error {
	for i, v := range []uint32{tcp, fin, udp} {
		if v != 0 {
			f.tmo[i] = v
		}
	}
	return nil
}

func (f *fakeKernel) Flush() error { f.svcs = nil; return nil }
func (f *fakeKernel) Close()       { f.closed = true }

// render prints the table as ipvsadm -Ln would, services sorted.
func (f *fakeKernel) render() string {
	var lines []string
	svcs := slices.Clone(f.svcs)
	slices.SortFunc(svcs, func(a, b *fakeSvc) int { return compareKey(a.s.key(), b.s.key()) })
	for _, x := range svcs {
		s := x.s
		l := fmt.Sprintf("%v %s flags=%#x", s.key(), s.Sched, s.Flags)
		if s.Flags&flagPersistent != 0 {
			l += fmt.Sprintf(" persistent %d /%d", s.Timeout, s.Netmask)
		}
		lines = append(lines, l)
		for _, d := range x.dests {
			lines = append(lines, fmt.Sprintf("  -> %v:%d %v %d", d.Addr, d.Port, d.Method, d.Weight))
		}
	}
	return strings.Join(lines, "\n")
}
