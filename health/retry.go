package health

import "time"

// timing is a checker's resolved timers.
type timing struct {
	delayLoop, delayBeforeRetry, connectTimeout, warmup time.Duration
	retry                                               int
}

// ckState is what keepalived keeps per checker to decide when it is up:
// is_up, has_run, retry_it, and for HTTP_GET/SSL_GET the url iterator and
// the failed url.
type ckState struct {
	up, hasRun bool
	retryIt    int
	// urlIt is the url the next attempt checks; failedURL is the url that
	// took the checker down (-1: none).
	urlIt, failedURL int
	// initialReported is MISC_CHECK's initial_state_reported.
	initialReported bool
}

func newCkState(alpha bool) ckState {
	return ckState{up: !alpha, failedURL: -1}
}

// The step functions below replay keepalived's epilogs. Each takes the
// outcome of an attempt, calls report(alive) where keepalived calls
// update_svr_checker_state (report may change s.up and s.hasRun), and
// returns the delay before the next attempt.

// stepGeneric is the epilog of TCP_CHECK, UDP_CHECK, DNS_CHECK,
// SMTP_CHECK and PING_CHECK (check_udp.c udp_epilog): retry failures
// after delay_before_retry while up; after retry+1 consecutive failures
// report down; report up on the first success; otherwise wait delay_loop.
func (s *ckState) stepGeneric(ok bool, t *timing, report func(bool)) time.Duration {
	delay := t.delayLoop
	if ok || ((s.up || !s.hasRun) && s.retryIt >= t.retry) {
		s.retryIt = 0
		if ok && (!s.up || !s.hasRun) {
			report(true)
		} else if !ok && (s.up || !s.hasRun) {
			report(false)
		}
	} else if s.up {
		delay = t.delayBeforeRetry
		s.retryIt++
	}
	s.hasRun = true
	return delay
}

// stepMisc is MISC_CHECK's (check_misc.c misc_check_child_thread): a
// failure counts only while up; the returned delay runs from the start of
// the attempt, not its end.
func (s *ckState) stepMisc(ok bool, t *timing, report func(bool)) time.Duration {
	if ok {
		if !s.up || !s.initialReported {
			s.initialReported = true
			report(true)
		}
		s.retryIt = 0
	} else if s.up {
		if s.retryIt < t.retry {
			s.retryIt++
		} else {
			s.retryIt = 0
			report(false)
		}
	}
	if s.retryIt > 0 {
		return t.delayBeforeRetry
	}
	return t.delayLoop
}

// stepHTTP is HTTP_GET's and SSL_GET's (check_http.c epilog and
// timeout_epilog). Each attempt checks one url; a success moves to the
// next url and the checker is reported up after a success on the last one.
// A failure is retried on the same url; after retry+1 failures the checker
// is reported down and that url is remembered as failed. While down only
// the failed url is tried (every max(delay_loop, delay_before_retry)); when
// it passes, the whole list is checked again from the first url before the
// checker comes back up. fast_recovery skips the delays while recovering.
func (s *ckState) stepHTTP(ok bool, nurls int, fast bool, t *timing, report func(bool)) time.Duration {
	const (
		methodNew = iota
		methodRetry
		methodFailed
	)
	var m int
	switch {
	case ok:
		m = methodNew
	case s.up || !s.hasRun:
		s.hasRun = true
		m = methodRetry
	default:
		m = methodFailed
	}
	switch m {
	case methodNew:
		if s.urlIt >= nurls-1 {
			s.urlIt = -1
		} else {
			s.urlIt++
		}
		s.retryIt = 0
	case methodRetry:
		s.retryIt++
	}
	switch {
	case m == methodNew && s.urlIt == -1 && s.failedURL == -1:
		// Every url passed.
		if !s.up || !s.hasRun {
			report(true)
			s.hasRun = true
		}
		s.urlIt, s.retryIt = 0, 0
	case m == methodRetry && s.retryIt > t.retry:
		if s.up || !s.hasRun {
			report(false)
		}
		s.failedURL = s.urlIt
	case m == methodNew && s.failedURL != -1:
		// The failed url passes again: check them all from the first.
		s.failedURL, s.urlIt, s.retryIt = -1, 0, 0
	}
	if s.urlIt < 0 {
		s.urlIt = 0
	}
	var delay time.Duration
	switch {
	case m == methodNew:
		delay = t.delayLoop
		if !s.hasRun {
			// Until a full pass, one failure is enough.
			s.retryIt = t.retry
		}
	case s.failedURL != -1:
		delay = max(t.delayBeforeRetry, t.delayLoop)
	default:
		delay = t.delayBeforeRetry
	}
	if fast && (!s.hasRun || (!s.up && s.failedURL == -1)) {
		delay = 0
	}
	return delay
}

// fileFault is keepalived's IPVS_WEIGHT_FAULT: a tracked file status this
// low puts the checker down.
const fileFault = -254

// fileStatus turns a tracked file's value into keepalived's status: with
// weight 0 any non-zero value (zero with reverse) is a fault; otherwise
// value × weight (negated with reverse), clamped to [-254, 253].
func fileStatus(v, weight int64, reverse bool) int64 {
	if weight == 0 {
		if (v != 0) != reverse {
			return fileFault
		}
		return 0
	}
	s := v * weight
	if v != 0 && s/v != weight {
		// Overflow: saturate in the direction of the product.
		if (v < 0) != (weight < 0) {
			s = fileFault
		} else {
			s = 253
		}
	}
	if reverse {
		s = -s
	}
	return min(max(s, fileFault), 253)
}
