package conf

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzInclude reads four files that may include each other (and anything
// else) through globs, braces, loops and definitions: nothing panics, and
// the work of one read stays within its bounds: files and bytes included,
// brace patterns, and lines (those of the bytes read plus those loops and
// definitions make).
func FuzzInclude(f *testing.F) {
	for _, s := range []string{
		"include *.conf\x00include *.conf\x00include ../*.conf\x00include {a,b}.conf",
		"include d/c.conf\x00vrrp_script a {\n script /bin/true\n}\n\x00include ../b.conf\x00include ../a.conf",
		"include " + strings.Repeat("{a,b}", 20) + ".conf\x00\x00\x00",
		"~SEQ(i,0,3) include ${i}.conf\x00include keepalived.conf\x00\x00",
		"$F=*.conf\ninclude $F\x00include $F\x00~SEQ(i,0,9) include d/*.conf\x00include ../*",
		"includea nothing*\x00includeb {x,y}\x00includer d\x00includem d/*.inc",
	} {
		f.Add([]byte(s))
	}
	names := []string{"keepalived.conf", "a.conf", "b.conf", "d/c.conf"}
	f.Fuzz(func(t *testing.T, data []byte) {
		parts := bytes.SplitN(data, []byte{0}, len(names))
		dir := t.TempDir()
		if err := os.Mkdir(filepath.Join(dir, "d"), 0o755); err != nil {
			t.Fatal(err)
		}
		for i, p := range parts {
			if err := os.WriteFile(filepath.Join(dir, names[i]), p, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		opts := Options{}
		r := newReader(&opts, &diagList{})
		main := filepath.Join(dir, names[0])
		r.open(main, bytes.NewReader(parts[0]))
		lines := 0
		for {
			if _, ok := r.next(); !ok {
				break
			}
			lines++
		}
		if r.included > maxIncludes {
			t.Fatalf("%d files included, bound %d", r.included, maxIncludes)
		}
		if r.includedBytes > maxIncludeBytes+1 {
			t.Fatalf("%d bytes included, bound %d", r.includedBytes, maxIncludeBytes)
		}
		// A line of a file is at least its newline; braces split one into
		// at most as many as it has bytes.
		if bound := int64(maxGenLines) + int64(len(parts[0])) + r.includedBytes; int64(lines) > bound*2 {
			t.Fatalf("%d lines from %d bytes read, bound %d", lines, int64(len(parts[0]))+r.includedBytes, bound*2)
		}
	})
}
