package vm

import (
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
)

// GuestLibDir is where Image.AddProgram puts shared libraries in the guest;
// the init script puts it on LD_LIBRARY_PATH.
const GuestLibDir = "/lib/x86_64-linux-gnu"

// SharedObject is a file a dynamically linked program needs at run time:
// its program interpreter (the dynamic loader) or a DT_NEEDED library.
type SharedObject struct {
	// Guest is the path the object must have in the guest.
	Guest string
	// Host is the file on the host that provides it.
	Host string
}

// SharedObjects returns the dynamic loader and the whole closure of shared
// libraries that the ELF program at path names, looking each library up in
// dirs in order. A static program needs none.
func SharedObjects(path string, dirs []string) ([]SharedObject, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("vm: %s: %w", path, err)
	}
	interp, err := interpreter(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("vm: %s: %w", path, err)
	}
	needed, err := f.ImportedLibraries()
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("vm: %s: %w", path, err)
	}
	var out []SharedObject
	if interp != "" {
		host, err := filepath.EvalSymlinks(interp)
		if err != nil {
			return nil, fmt.Errorf("vm: %s: interpreter: %w", path, err)
		}
		out = append(out, SharedObject{Guest: interp, Host: host})
	}
	seen := map[string]bool{}
	for len(needed) > 0 {
		lib := needed[0]
		needed = needed[1:]
		if seen[lib] {
			continue
		}
		seen[lib] = true
		host, err := findLib(lib, dirs)
		if err != nil {
			return nil, fmt.Errorf("vm: %s: %w", path, err)
		}
		out = append(out, SharedObject{Guest: GuestLibDir + "/" + lib, Host: host})
		lf, err := elf.Open(host)
		if err != nil {
			return nil, fmt.Errorf("vm: %s: %w", host, err)
		}
		more, err := lf.ImportedLibraries()
		lf.Close()
		if err != nil {
			return nil, fmt.Errorf("vm: %s: %w", host, err)
		}
		needed = append(needed, more...)
	}
	return out, nil
}

func interpreter(f *elf.File) (string, error) {
	for _, p := range f.Progs {
		if p.Type != elf.PT_INTERP {
			continue
		}
		b := make([]byte, p.Filesz)
		if _, err := p.ReadAt(b, 0); err != nil {
			return "", fmt.Errorf("PT_INTERP: %w", err)
		}
		for len(b) > 0 && b[len(b)-1] == 0 {
			b = b[:len(b)-1]
		}
		return string(b), nil
	}
	return "", nil
}

func findLib(name string, dirs []string) (string, error) {
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if _, err := os.Stat(p); err == nil {
			return filepath.EvalSymlinks(p)
		}
	}
	return "", fmt.Errorf("shared library %s not found in %v", name, dirs)
}
