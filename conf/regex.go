package conf

import (
	"regexp"
	"strings"
)

// keepalived matches HTTP_GET/SSL_GET url regexes with PCRE2; ulvs with
// Go's regexp (RE2). This file maps keepalived's regex_options onto RE2's
// flags and refuses, at its line, what RE2 cannot run. package health
// documents where the two engines differ.

// regexFlags are the PCRE2 options RE2 has as inline flags.
var regexFlags = map[string]string{"caseless": "i", "multiline": "m", "dotall": "s", "ungreedy": "U"}

// regexNoEffect are PCRE2 options that change nothing under RE2: RE2
// already behaves so (utf, dollar_endonly without multiline), or they
// only tune PCRE2's compiler and matcher.
var regexNoEffect = map[string]bool{
	"utf": true, "dollar_endonly": true, "no_auto_capture": true, "no_auto_possess": true,
	"no_dotstar_anchor": true, "no_start_optimize": true, "auto_callout": true, "never_ucp": true,
	"never_utf": true, "never_backslash_c": true, "dupnames": true, "use_offset_limit": true,
}

// regexOptionProblem says why a regex_options word is not applied, or ""
// when it is.
func regexOptionProblem(o string) string {
	switch {
	case regexFlags[o] != "", regexNoEffect[o], o == "extended":
		// extended is refused with the pattern, where the line is known.
		return ""
	case o == "firstline", o == "ucp", o == "alt_bsux", o == "allow_empty_class", o == "match_unset_backref",
		o == "alt_circumflex", o == "alt_verbnames":
		return "Go's RE2 has no such option; the pattern is matched without it"
	}
	return "unknown PCRE2 option - ignored"
}

// RE2 returns the url's regex as Go's regexp runs it: the pattern with
// regex_options' flags in front. It is "" without a regex.
func (u *URL) RE2() string {
	if u.Regex == "" {
		return ""
	}
	var flags strings.Builder
	for _, o := range u.RegexOptions {
		if f := regexFlags[o]; f != "" && !strings.Contains(flags.String(), f) {
			flags.WriteString(f)
		}
	}
	if flags.Len() == 0 {
		return u.Regex
	}
	return "(?" + flags.String() + ")" + u.Regex
}

// checkURLRegex runs at the end of a url block: a pattern RE2 cannot run
// is an error at its line (keepalived would run it with PCRE2; ulvs will
// not run a check it cannot evaluate as written), and regex settings
// without a regex are dropped with keepalived's message.
func checkURLRegex(b *builder, n *Node, u *URL) {
	if u.Regex == "" {
		if u.RegexNoMatch || u.RegexMinOffset != 0 || u.RegexMaxOffset != nil || len(u.RegexOptions) > 0 {
			b.d.warnf(n.Pos, "url: regex parameters specified without regex - ignored")
			u.RegexNoMatch, u.RegexMinOffset, u.RegexMaxOffset, u.RegexOptions = false, 0, nil, nil
		}
		return
	}
	for _, o := range u.RegexOptions {
		if o == "extended" {
			b.d.errorf(u.RegexPos, "regex %q: regex_options extended (whitespace and # comments in the pattern) has no counterpart in Go's RE2; write the pattern without them", u.Regex)
			return
		}
	}
	if _, err := regexp.Compile(u.RE2()); err != nil {
		b.d.errorf(u.RegexPos, "regex %q: Go's RE2 cannot run it (%v); RE2 has no backreferences, lookahead/lookbehind, atomic groups, possessive quantifiers, \\G, \\K or \\Z", u.Regex, err)
		return
	}
	if m := u.RegexMaxOffset; m != nil && u.RegexMinOffset > *m {
		b.d.warnf(n.Pos, "url: regex min offset %d > regex_max_offset %d - ignoring", u.RegexMinOffset, *m)
		u.RegexMinOffset, u.RegexMaxOffset = 0, nil
	}
}
