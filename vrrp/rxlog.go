package vrrp

import "time"

// Refused adverts are logged as keepalived logs them (one line each, at
// info), but at most rejectBurst at once and then one per rejectEvery per
// instance: an attacker on the link must not flood the log. The next line
// after a quiet spell says how many were left out.
const (
	rejectBurst = 5
	rejectEvery = 10 * time.Second
)

// rxLimiter is one instance's token bucket for refusal lines.
type rxLimiter struct {
	tokens     int
	last       time.Time
	suppressed uint64
}

// allow reports whether a refusal may be logged now, and how many were
// left out since the last one logged.
func (l *rxLimiter) allow(now time.Time) (bool, uint64) {
	if l.last.IsZero() {
		l.tokens, l.last = rejectBurst, now
	}
	if n := int(now.Sub(l.last) / rejectEvery); n > 0 {
		l.tokens = min(rejectBurst, l.tokens+n)
		l.last = l.last.Add(time.Duration(n) * rejectEvery)
	}
	if l.tokens == 0 {
		l.suppressed++
		return false, 0
	}
	l.tokens--
	s := l.suppressed
	l.suppressed = 0
	return true, s
}
