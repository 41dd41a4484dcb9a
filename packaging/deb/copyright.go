//go:build ignore

// copyright.go writes the package's debian/copyright (machine-readable
// format 1.0): ulvs itself, then every Go module linked into the given
// binaries (read from their build information), each with the license its
// LICENSE file in the module cache carries, and the text of each license
// not in /usr/share/common-licenses.
//
//	go run packaging/deb/copyright.go BINARY...
package main

import (
	"debug/buildinfo"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"unicode"
)

func main() {
	mods := map[string]string{} // path → version
	for _, bin := range os.Args[1:] {
		bi, err := buildinfo.ReadFile(bin)
		if err != nil {
			fatal(err)
		}
		for _, d := range bi.Deps {
			if d.Replace != nil {
				d = d.Replace
			}
			mods[d.Path] = d.Version
		}
	}
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		fatal(err)
	}
	cache := strings.TrimSpace(string(out))
	paths := make([]string, 0, len(mods))
	for p := range mods {
		paths = append(paths, p)
	}
	sort.Strings(paths)

	fmt.Print(`Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: ulvs
Comment: ulvsd, ulvsadm, ulvslab and ulvs-genhash are static Go programs; the
 Go modules linked into them are listed below with their licenses, as found
 in each module's own LICENSE file.

Files: *
Copyright: the ulvs authors
License: ulvs-no-license-yet
`)
	texts := map[string]string{} // license → text, for those not in common-licenses
	var missing []string
	for _, p := range paths {
		v := mods[p]
		dir := filepath.Join(cache, escape(p)+"@"+v)
		text, name := "", ""
		for _, f := range []string{"LICENSE", "LICENSE.txt", "LICENSE.md", "COPYING", "LICENCE"} {
			b, err := os.ReadFile(filepath.Join(dir, f))
			if err == nil {
				text, name = string(b), f
				break
			}
		}
		if text == "" {
			missing = append(missing, p+"@"+v)
			continue
		}
		lic := classify(text)
		holder := copyrightLine(text)
		if holder == "" {
			holder = "the " + p + " authors (see its " + name + ")"
		}
		fmt.Printf("\nFiles: embedded/%s\nCopyright: %s\nLicense: %s\nComment: Go module %s %s\n", p, holder, lic, p, v)
		if lic != "Apache-2.0" && texts[lic] == "" {
			texts[lic] = text
		}
	}
	if len(missing) > 0 {
		fatal(fmt.Errorf("no license file found for %v (is the module cache filled? go mod download)", missing))
	}
	fmt.Print(`
License: ulvs-no-license-yet
 The ulvs repository does not carry a license yet; until it does, no rights
 beyond those of Debian's distribution of this package are granted.

License: Apache-2.0
 On Debian systems, the complete text of the Apache License, Version 2.0 can
 be found in "/usr/share/common-licenses/Apache-2.0".
`)
	lics := make([]string, 0, len(texts))
	for l := range texts {
		lics = append(lics, l)
	}
	sort.Strings(lics)
	for _, l := range lics {
		fmt.Printf("\nLicense: %s\n%s", l, indent(texts[l]))
	}
}

// classify names a license text by its distinctive words.
func classify(t string) string {
	switch {
	case strings.Contains(t, "Apache License") && strings.Contains(t, "Version 2.0"):
		return "Apache-2.0"
	case strings.Contains(t, "Mozilla Public License") && strings.Contains(t, "2.0"):
		return "MPL-2.0"
	case strings.Contains(t, "Permission is hereby granted, free of charge"):
		return "Expat"
	case strings.Contains(t, "Permission to use, copy, modify, and/or distribute"),
		strings.Contains(t, "Permission to use, copy, modify, and distribute"):
		return "ISC"
	case strings.Contains(t, "Redistribution and use in source and binary forms"):
		if strings.Contains(t, "Neither the name") || strings.Contains(t, "names of its contributors") {
			return "BSD-3-clause"
		}
		return "BSD-2-clause"
	}
	fatal(fmt.Errorf("unknown license text starting %.80q", t))
	return ""
}

func copyrightLine(t string) string {
	for _, l := range strings.Split(t, "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(strings.ToLower(l), "copyright") && strings.IndexFunc(l, unicode.IsDigit) > 0 {
			l = strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(l, "Copyright"), "copyright"))
			l = strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(l, "(c)"), "(C)"))
			return strings.TrimPrefix(l, "©")
		}
	}
	return ""
}

// indent makes text a continuation field: each line after a space, blank
// lines as " .".
func indent(t string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimSpace(t), "\n") {
		l = strings.TrimRight(l, " \t\r")
		if l == "" {
			b.WriteString(" .\n")
		} else {
			b.WriteString(" " + l + "\n")
		}
	}
	return b.String()
}

// escape is the module cache's case encoding ("!" before a lower-cased
// upper-case letter).
func escape(p string) string {
	var b strings.Builder
	for _, r := range p {
		if unicode.IsUpper(r) {
			b.WriteString("!" + string(unicode.ToLower(r)))
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "copyright:", err)
	os.Exit(1)
}
