package vm

import (
	"bytes"
	"debug/elf"
	"fmt"
	"strings"
)

// ModinfoField is one "key=value" entry of a kernel module's .modinfo
// section (license, depends, vermagic, alias, parm, ...).
type ModinfoField struct {
	Key, Value string
}

// Modinfo is the content of a kernel module's .modinfo section, in order.
// Keys repeat (alias, parm), so it is a list rather than a map.
type Modinfo []ModinfoField

// ParseModinfo parses a .modinfo section: NUL-terminated "key=value"
// strings, with runs of NUL bytes as padding between them. It copies what
// it keeps.
func ParseModinfo(b []byte) (Modinfo, error) {
	var m Modinfo
	for len(b) > 0 {
		i := bytes.IndexByte(b, 0)
		if i < 0 {
			return nil, fmt.Errorf("vm: modinfo: entry %q is not NUL-terminated", truncate(b))
		}
		s := b[:i]
		b = b[i+1:]
		if len(s) == 0 {
			continue // alignment padding
		}
		k, v, ok := bytes.Cut(s, []byte{'='})
		if !ok || len(k) == 0 {
			return nil, fmt.Errorf("vm: modinfo: entry %q is not key=value", truncate(s))
		}
		m = append(m, ModinfoField{Key: string(k), Value: string(v)})
	}
	return m, nil
}

// AppendBinary appends the section form of m to b: each field as
// "key=value" and a NUL.
func (m Modinfo) AppendBinary(b []byte) ([]byte, error) {
	for _, f := range m {
		if f.Key == "" || strings.ContainsAny(f.Key, "=\x00") || strings.ContainsRune(f.Value, 0) {
			return b, fmt.Errorf("vm: modinfo: field %q=%q cannot be encoded", f.Key, f.Value)
		}
		b = append(b, f.Key...)
		b = append(b, '=')
		b = append(b, f.Value...)
		b = append(b, 0)
	}
	return b, nil
}

// Get returns the first value of key.
func (m Modinfo) Get(key string) (string, bool) {
	for _, f := range m {
		if f.Key == key {
			return f.Value, true
		}
	}
	return "", false
}

// Depends returns the module names the module needs loaded first (the
// comma-separated "depends" field), normalised as ModuleName does.
func (m Modinfo) Depends() []string {
	v, _ := m.Get("depends")
	var out []string
	for _, d := range strings.Split(v, ",") {
		if d = strings.TrimSpace(d); d != "" {
			out = append(out, ModuleName(d))
		}
	}
	return out
}

// SoftDeps returns the "softdep" field's modules: pre are loaded before
// the module, post after it. A name may be a module or an alias of one
// (libcrc32c asks for "crc32c", which crc32c_generic provides). The
// field reads "pre: a b post: c".
func (m Modinfo) SoftDeps() (pre, post []string) {
	for _, f := range m {
		if f.Key != "softdep" {
			continue
		}
		var cur *[]string
		for _, w := range strings.Fields(f.Value) {
			switch w {
			case "pre:":
				cur = &pre
			case "post:":
				cur = &post
			default:
				if cur != nil {
					*cur = append(*cur, w)
				}
			}
		}
	}
	return pre, post
}

// ReadModinfo reads the .modinfo section of a kernel module file.
func ReadModinfo(path string) (Modinfo, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("vm: %s: %w", path, err)
	}
	defer f.Close()
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, fmt.Errorf("vm: %s: no .modinfo section (not a kernel module?)", path)
	}
	data, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("vm: %s: .modinfo: %w", path, err)
	}
	m, err := ParseModinfo(data)
	if err != nil {
		return nil, fmt.Errorf("vm: %s: %w", path, err)
	}
	return m, nil
}

// ModuleName normalises a module name as the kernel does: '-' and '_' are
// the same character, and the file suffix is not part of the name.
func ModuleName(s string) string {
	s = strings.TrimSuffix(s, ".ko")
	return strings.ReplaceAll(s, "-", "_")
}

func truncate(b []byte) []byte {
	if len(b) > 40 {
		return b[:40]
	}
	return b
}
