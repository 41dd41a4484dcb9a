package health

import (
	"context"
	"time"
)

// prober makes one attempt of a checker. It is built from the checker's
// configuration and never changes; a reload that changes the configuration
// hands the running checker a new prober.
type prober interface {
	// probe makes the attempt for step (the url index of HTTP_GET and
	// SSL_GET, 0 for the others) and reports how it went. It returns by
	// its own timeout or when ctx ends.
	probe(ctx context.Context, step int) outcome
	// steps is the number of steps of a full check (the number of urls).
	steps() int
}

// outcome is the result of one attempt.
type outcome struct {
	ok bool
	// reason says what failed (or, for a success, what passed), in
	// keepalived's words where it has some.
	reason string
	// weight is set when a MISC_CHECK with misc_dynamic returned 2..255.
	weight    int64
	hasWeight bool
	// value is FILE_CHECK's number read from the file.
	value int64
	// latency is how long the attempt took.
	latency time.Duration
}

func failed(reason string) outcome { return outcome{reason: reason} }
func passed(reason string) outcome { return outcome{ok: true, reason: reason} }
func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}
