package health

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
)

// urlRegex is a url's compiled regex with keepalived's offsets.
type urlRegex struct {
	re      *regexp.Regexp
	noMatch bool
	// min is regex_min_offset; max is regex_max_offset, or -1 for none.
	min, max int64
}

func newURLRegex(u *URL) (*urlRegex, error) {
	if u.Regex == "" {
		// keepalived: "regex parameters specified without regex", and
		// drops them (conf warns at the url).
		return nil, nil
	}
	re, err := regexp.Compile(u.Regex)
	if err != nil {
		return nil, fmt.Errorf("url %s: regex %q: %w", u.Path, u.Regex, err)
	}
	r := &urlRegex{re: re, noMatch: u.RegexNoMatch, min: int64(u.RegexMinOffset), max: -1}
	if u.RegexMinOffset < 0 {
		return nil, fmt.Errorf("url %s: regex_min_offset %d is negative", u.Path, u.RegexMinOffset)
	}
	if m := u.RegexMaxOffset; m != nil {
		if *m < 0 {
			return nil, fmt.Errorf("url %s: regex_max_offset %d is negative", u.Path, *m)
		}
		r.max = int64(*m)
		if r.min > r.max {
			// keepalived: "regex min offset > regex_max_offset - ignoring"
			// and both are dropped.
			r.min, r.max = 0, -1
		}
	}
	return r, nil
}

// regexMatch runs a regex over a response while it arrives, in constant
// memory: the reader feeds it through Write and Close gives the verdict.
// Go's regexp matches an io.RuneReader in one pass without backtracking,
// so the response is never held whole; a goroutine on the far side of a
// pipe runs the match and drains what is left once it has decided, so a
// Write never blocks for longer than the match takes to consume it.
type regexMatch struct {
	pw    *io.PipeWriter
	done  chan struct{}
	found bool
	// wrote counts the bytes written: a response without a body is never
	// matched (keepalived runs its regex only on body reads).
	wrote bool
}

// start begins matching r against what is written.
func (r *urlRegex) start() *regexMatch {
	pr, pw := io.Pipe()
	m := &regexMatch{pw: pw, done: make(chan struct{})}
	go func() {
		defer close(m.done)
		br := bufio.NewReader(pr)
		// regex_min_offset: the match starts at or after min. The bytes
		// before it are not seen at all, so ^ and \b see the min'th byte
		// as the start of the text (PCRE2's start offset keeps them as
		// context; see the package documentation).
		if r.min > 0 {
			if _, err := io.CopyN(io.Discard, br, r.min); err != nil {
				_, _ = io.Copy(io.Discard, br)
				return
			}
		}
		loc := r.re.FindReaderIndex(br)
		// The leftmost match is the first candidate: if it starts beyond
		// max, no match starts within it.
		m.found = loc != nil && (r.max < 0 || r.min+int64(loc[0]) <= r.max)
		_, _ = io.Copy(io.Discard, br)
	}()
	return m
}

// Write feeds response bytes to the match. It never fails.
func (m *regexMatch) Write(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	m.wrote = true
	// The reader side drains until the writer closes, so this returns.
	return m.pw.Write(b)
}

// Close ends the input and returns whether the regex matched.
func (m *regexMatch) Close() bool {
	_ = m.pw.Close()
	<-m.done
	return m.found && m.wrote
}
