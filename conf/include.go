package conf

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// include lines (lib/parser.c check_include, read_conf_file).

// include handles include, includer, includem, includew, includeb and
// includea lines. It reports whether the line was one.
func (r *reader) include(l line) bool {
	if !strings.Contains(l.text, "include") {
		return false
	}
	w, ok := splitWords(l.text)
	if !ok || len(w) == 0 {
		return false
	}
	checks := ""
	switch w[0] {
	case "include":
		checks = r.includeCheck
		if r.opts.AllConfig {
			checks = "rmwb"
		}
	case "includer":
		checks = "r"
	case "includem":
		checks = "m"
	case "includew":
		checks = "w"
	case "includeb":
		checks = "b"
	case "includea":
		checks = "rmwb"
	default:
		return false
	}
	if len(w) != 2 {
		r.diags.errorf(l.pos, "%s takes exactly one file pattern", w[0])
		return true
	}
	if r.opts.noInclude {
		r.diags.errorf(l.pos, "%s: includes are disabled here", w[0])
		return true
	}
	if len(r.files) >= maxIncludeDepth {
		r.diags.errorf(l.pos, "includes nested more than %d deep (an include loop?)", maxIncludeDepth)
		return true
	}
	pattern := w[1]
	if !filepath.IsAbs(pattern) {
		pattern = filepath.Join(r.curDir(), pattern)
	}
	report := func(check byte, format string, args ...any) {
		if strings.IndexByte(checks, check) >= 0 {
			r.diags.errorf(l.pos, format, args...)
		} else {
			r.diags.warnf(l.pos, format, args...)
		}
	}
	alts, ok := expandBracesMax(pattern, maxIncludes)
	if !ok {
		r.diags.errorf(l.pos, "include %s: its braces expand to more than %d patterns; not read", w[1], maxIncludes)
		return true
	}
	var paths []string
	for _, alt := range alts {
		matches, err := filepath.Glob(alt)
		if err != nil {
			r.diags.errorf(l.pos, "include %s: %v", w[1], err)
			continue
		}
		sort.Strings(matches)
		if len(matches) == 0 && alt != pattern {
			report('b', "include %s: no file matches %s", w[1], alt)
		}
		if len(matches) == 0 && strings.ContainsAny(alt, "*?[") {
			report('w', "include %s: wildcard %s matches no file", w[1], alt)
		}
		paths = append(paths, matches...)
	}
	opened := 0
	// Files are pushed in reverse so that the first match is read first.
	var toOpen []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			report('r', "include %s: %v", w[1], err)
			continue
		}
		if st.IsDir() {
			continue
		}
		if !st.Mode().IsRegular() || st.Mode()&0o111 != 0 {
			report('r', "include %s: %s is not a regular non-executable file - skipping", w[1], p)
			continue
		}
		toOpen = append(toOpen, p)
	}
	if r.included+len(toOpen) > maxIncludes {
		r.diags.errorf(l.pos, "include %s: more than %d files included in all (an include loop?); not read", w[1], maxIncludes)
		return true
	}
	r.included += len(toOpen)
	for i := len(toOpen) - 1; i >= 0; i-- {
		f, err := readAtMost(toOpen[i], maxIncludeBytes-r.includedBytes)
		if err != nil {
			report('r', "include %s: %v", w[1], err)
			continue
		}
		if r.includedBytes += int64(len(f)); r.includedBytes > maxIncludeBytes {
			r.diags.errorf(l.pos, "include %s: %s takes the files included past %d MiB in all (an include loop?); not read",
				w[1], toOpen[i], maxIncludeBytes>>20)
			r.includedBytes = maxIncludeBytes + 1
			continue
		}
		r.open(r.relName(toOpen[i]), bytes.NewReader(f))
		opened++
	}
	if opened == 0 && len(toOpen) == 0 {
		report('m', "include %s: no config files matched", w[1])
	}
	return true
}

// readAtMost reads a file, or its first n+1 bytes when it is longer than n.
func readAtMost(path string, n int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, max(n, 0)+1))
}

// relName shortens an included file's path for messages: relative to the
// working directory when that is shorter.
func (r *reader) relName(p string) string {
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, p); err == nil && !strings.HasPrefix(rel, "..") {
			return rel
		}
	}
	return p
}

// expandBraces does csh-style brace expansion: "a{b,c}d" → [abd acd].
func expandBraces(s string) []string {
	out, _ := expandBracesMax(s, -1)
	return out
}

// expandBracesMax is expandBraces giving up once more than max patterns
// would come out (max < 0: no bound): n groups of two alternatives make
// 2^n of them, and one include line has room for 200 groups.
func expandBracesMax(s string, max int) ([]string, bool) {
	budget := -1
	if max >= 0 {
		budget = max + 1 // one more, to tell "exactly max" from "more"
	}
	out := expandBracesInto(nil, s, &budget)
	if max >= 0 && len(out) > max {
		return out[:max], false
	}
	return out, true
}

func expandBracesInto(out []string, s string, budget *int) []string {
	if *budget == 0 {
		return out
	}
	open := -1
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '{':
			if depth == 0 {
				open = i
			}
			depth++
		case '}':
			if depth == 0 {
				continue
			}
			depth--
			if depth == 0 {
				inner := s[open+1 : i]
				parts := splitTopLevel(inner)
				if len(parts) < 2 {
					// "{x}" is not an alternation: keep it literal.
					var tails []string
					b := *budget
					tails = expandBracesInto(tails, s[i+1:], &b)
					for _, tail := range tails {
						if *budget == 0 {
							break
						}
						out = append(out, s[:i+1]+tail)
						*budget--
					}
					return out
				}
				for _, p := range parts {
					if *budget == 0 {
						break
					}
					out = expandBracesInto(out, s[:open]+p+s[i+1:], budget)
				}
				return out
			}
		}
	}
	*budget--
	return append(out, s)
}
