package conf

import (
	"fmt"
	"strconv"
	"strings"
)

// ~SEQ and ~LST loops (lib/parser.c add_seq, add_lst).

// loop registers ~SEQ(var, [start,] [step,] end) / ~SEQx(...) /
// ~LST(var, v1, v2, ...) / ~LST({a,b}, {1,2}, ...) and the text after it.
func (r *reader) loop(pos Pos, buf string) error {
	hex := strings.HasPrefix(buf, "~SEQx")
	isSeq := strings.HasPrefix(buf, "~SEQ")
	p := 4
	if hex {
		p = 5
	}
	rest := strings.TrimLeft(buf[p:], " \t")
	if !strings.HasPrefix(rest, "(") {
		return fmt.Errorf("invalid %s definition '%s'", buf[:p], buf)
	}
	close := matchingParen(rest)
	if close < 0 {
		return fmt.Errorf("invalid %s definition '%s': missing ')'", buf[:p], buf)
	}
	inner := rest[1:close]
	text := strings.TrimLeft(rest[close+1:], " \t")
	if strings.Contains(inner, "$") {
		sub, _, multi := r.substitute(pos, inner)
		if multi != nil {
			return fmt.Errorf("%s parameter is a multiline definition '%s'", buf[:p], buf)
		}
		inner = sub
	}
	g := &gen{pos: pos, text: text}
	if isSeq {
		args := strings.Split(inner, ",")
		v := strings.TrimSpace(args[0])
		if v == "" || len(args) < 2 || len(args) > 4 {
			return fmt.Errorf("invalid ~SEQ definition '%s'", buf)
		}
		var nums []int64
		for _, a := range args[1:] {
			n, err := strconv.ParseInt(strings.TrimSpace(a), 0, 64)
			if err != nil {
				return fmt.Errorf("invalid ~SEQ definition '%s': %q is not a number", buf, strings.TrimSpace(a))
			}
			nums = append(nums, n)
		}
		var start, step, end int64
		switch len(nums) {
		case 1:
			end = nums[0]
			step, start = 1, 1
			if end < 1 {
				step = -1
			}
			if end < 0 {
				start = -1
			}
		case 2:
			start, end = nums[0], nums[1]
			step = 1
			if start > end {
				step = -1
			}
		case 3:
			start, step, end = nums[0], nums[1], nums[2]
			if step == 0 || (start < end && step < 0) || (start > end && step > 0) {
				return fmt.Errorf("invalid ~SEQ values '%s'", buf)
			}
		}
		if hex && (start < 0 || end < 0) {
			return fmt.Errorf("~SEQx is only valid for positive numbers '%s'", buf)
		}
		const maxIter = 1 << 16
		g.vars = []string{v}
		for x := start; (step > 0 && x <= end) || (step < 0 && x >= end); x += step {
			s := strconv.FormatInt(x, 10)
			if hex {
				s = strconv.FormatInt(x, 16)
			}
			g.values = append(g.values, []string{s})
			if len(g.values) > maxIter {
				return fmt.Errorf("~SEQ '%s' has more than %d values", buf, maxIter)
			}
		}
	} else {
		items := splitTopLevel(inner)
		if len(items) < 1 {
			return fmt.Errorf("invalid ~LST definition '%s'", buf)
		}
		vars := braceList(items[0])
		if len(vars) == 0 || vars[0] == "" {
			return fmt.Errorf("invalid ~LST definition '%s'", buf)
		}
		g.vars = vars
		for _, it := range items[1:] {
			vals := braceList(it)
			if len(vals) != len(vars) {
				return fmt.Errorf("~LST '%s': %q has %d values for %d variables", buf, it, len(vals), len(vars))
			}
			g.values = append(g.values, vals)
		}
	}
	if len(g.values) > 0 {
		r.gens = append(r.gens, g)
	}
	return nil
}

func matchingParen(s string) int {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// splitTopLevel splits on commas outside braces.
func splitTopLevel(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '{':
			depth++
		case '}':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	return append(out, strings.TrimSpace(s[start:]))
}

// braceList turns "{a,b}" into [a b] and "a" into [a].
func braceList(s string) []string {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
		parts := strings.Split(s[1:len(s)-1], ",")
		for i := range parts {
			parts[i] = strings.TrimSpace(parts[i])
		}
		return parts
	}
	return []string{s}
}
