package topotest

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Tool is one row of scripts/tools.txt: a program the tests, the demo or
// the benchmarks run, and the Debian package that provides it.
type Tool struct {
	// Name is the program looked up on PATH; "-" for a package that has
	// no program of its own.
	Name    string
	Package string
	// Lists are where it is needed: test, demo, bench.
	Lists []string
	Why   string
}

// In reports whether the tool is needed by the list (test, demo, bench).
func (t Tool) In(list string) bool {
	for _, l := range t.Lists {
		if l == list {
			return true
		}
	}
	return false
}

// ToolTablePath is scripts/tools.txt in the module.
func ToolTablePath() (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "scripts", "tools.txt"), nil
}

// ToolTable reads scripts/tools.txt, the table scripts/deps.sh installs
// from.
func ToolTable() ([]Tool, error) {
	p, err := ToolTablePath()
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("topotest: %w", err)
	}
	return ParseToolTable(p, data)
}

// ParseToolTable reads the table's rows: "tool package lists why...",
// '#' starting a comment line.
func ParseToolTable(name string, data []byte) ([]Tool, error) {
	var out []Tool
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 {
			return nil, fmt.Errorf("topotest: %s:%d: want \"tool package lists why\", got %q", name, n, line)
		}
		t := Tool{Name: f[0], Package: f[1], Lists: strings.Split(f[2], ","), Why: strings.Join(f[3:], " ")}
		for _, l := range t.Lists {
			if l != "test" && l != "demo" && l != "bench" {
				return nil, fmt.Errorf("topotest: %s:%d: unknown list %q (test, demo or bench)", name, n, l)
			}
		}
		out = append(out, t)
	}
	return out, sc.Err()
}

// packageOf names the Debian package that provides tool for the tests, or
// "" when the table does not name it.
func packageOf(tool string) string {
	tools, err := ToolTable()
	if err != nil {
		return ""
	}
	for _, t := range tools {
		if t.Name == tool && t.In("test") {
			return t.Package
		}
	}
	return ""
}
