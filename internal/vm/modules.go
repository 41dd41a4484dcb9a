package vm

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// Module is one loadable kernel module.
type Module struct {
	// Name is the normalised module name (ip_vs_rr).
	Name string
	// Path is the .ko file on the host.
	Path string
	// Depends are the modules that must be loaded first.
	Depends []string
	// SoftPre and SoftPost are the softdep names (modules or aliases) to
	// load before and after it, when they exist.
	SoftPre, SoftPost []string
}

// ModuleIndex knows the modules of one kernel: every .ko under a
// lib/modules/<version> tree, and the names built into the kernel image
// (modules.builtin), which need no loading.
type ModuleIndex struct {
	files   map[string]string // name → .ko path
	builtin map[string]bool
	read    func(path string) (Modinfo, error)
	cache   map[string]*Module
	aliases map[string][]string // alias → module names, read on first need
}

// OpenModules indexes the modules under dir (a lib/modules/<version>
// directory as Debian's linux-image package unpacks it).
func OpenModules(dir string) (*ModuleIndex, error) {
	x := &ModuleIndex{files: map[string]string{}, builtin: map[string]bool{}, read: ReadModinfo,
		cache: map[string]*Module{}}
	err := filepath.WalkDir(filepath.Join(dir, "kernel"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		switch {
		case d.IsDir():
		case strings.HasSuffix(name, ".ko"):
			x.files[ModuleName(name)] = p
		case strings.HasSuffix(name, ".ko.xz"), strings.HasSuffix(name, ".ko.zst"), strings.HasSuffix(name, ".ko.gz"):
			return fmt.Errorf("vm: %s: compressed modules are not supported", p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("vm: modules: %w", err)
	}
	if len(x.files) == 0 {
		return nil, fmt.Errorf("vm: no kernel modules under %s", dir)
	}
	f, err := os.Open(filepath.Join(dir, "modules.builtin"))
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("vm: modules: %w", err)
	default:
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if l := strings.TrimSpace(sc.Text()); l != "" {
				x.builtin[ModuleName(path.Base(l))] = true
			}
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("vm: modules.builtin: %w", err)
		}
	}
	return x, nil
}

// Builtin reports whether name is built into the kernel image.
func (x *ModuleIndex) Builtin(name string) bool { return x.builtin[ModuleName(name)] }

// Module returns the module called name with its dependencies read from
// its .modinfo.
func (x *ModuleIndex) Module(name string) (*Module, error) {
	name = ModuleName(name)
	if m, ok := x.cache[name]; ok {
		return m, nil
	}
	p, ok := x.files[name]
	if !ok {
		return nil, fmt.Errorf("vm: kernel module %s not found", name)
	}
	info, err := x.read(p)
	if err != nil {
		return nil, err
	}
	m := &Module{Name: name, Path: p, Depends: info.Depends()}
	m.SoftPre, m.SoftPost = info.SoftDeps()
	x.cache[name] = m
	return m, nil
}

// Resolve returns the module that provides name: the module itself, or
// the first module (by name) that declares name as an alias. ok is false
// when nothing provides it, or it is built in.
func (x *ModuleIndex) Resolve(name string) (string, bool, error) {
	n := ModuleName(name)
	if x.builtin[n] {
		return "", false, nil
	}
	if _, ok := x.files[n]; ok {
		return n, true, nil
	}
	if x.aliases == nil {
		x.aliases = map[string][]string{}
		names := make([]string, 0, len(x.files))
		for k := range x.files {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			info, err := x.read(x.files[k])
			if err != nil {
				return "", false, err
			}
			for _, f := range info {
				if f.Key == "alias" {
					x.aliases[f.Value] = append(x.aliases[f.Value], k)
				}
			}
		}
	}
	for _, a := range []string{name, n} {
		if mods := x.aliases[a]; len(mods) > 0 {
			if x.builtinAlias(mods) {
				return "", false, nil
			}
			return mods[0], true, nil
		}
	}
	return "", false, nil
}

func (x *ModuleIndex) builtinAlias(mods []string) bool {
	for _, m := range mods {
		if x.builtin[m] {
			return true
		}
	}
	return false
}

// Closure returns the named modules and everything they depend on, each
// once, in an order that loads every module after its dependencies.
// Built-in modules are left out; a name that is neither a module file nor
// built in is an error, as is a dependency cycle.
func (x *ModuleIndex) Closure(names ...string) ([]*Module, error) {
	var order []*Module
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(name string, chain []string) error
	visit = func(name string, chain []string) error {
		name = ModuleName(name)
		switch state[name] {
		case 2:
			return nil
		case 1:
			return fmt.Errorf("vm: module dependency cycle: %s → %s", strings.Join(chain, " → "), name)
		}
		if x.builtin[name] {
			state[name] = 2
			return nil
		}
		m, err := x.Module(name)
		if err != nil {
			if len(chain) > 0 {
				return fmt.Errorf("%w (needed by %s)", err, chain[len(chain)-1])
			}
			return err
		}
		state[name] = 1
		deps := append([]string(nil), m.Depends...)
		sort.Strings(deps) // a stable order whatever .modinfo lists
		soft := func(names []string) ([]string, error) {
			var out []string
			for _, s := range names {
				r, ok, err := x.Resolve(s)
				if err != nil {
					return nil, err
				}
				if ok && r != name {
					out = append(out, r)
				}
			}
			return out, nil
		}
		pre, err := soft(m.SoftPre)
		if err != nil {
			return err
		}
		post, err := soft(m.SoftPost)
		if err != nil {
			return err
		}
		for _, d := range append(pre, deps...) {
			if err := visit(d, append(chain, name)); err != nil {
				return err
			}
		}
		state[name] = 2
		order = append(order, m)
		for _, d := range post {
			if err := visit(d, nil); err != nil {
				return err
			}
		}
		return nil
	}
	for _, n := range names {
		if err := visit(n, nil); err != nil {
			return nil, err
		}
	}
	return order, nil
}
