package health

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// run feeds outcomes ("+" pass, "-" fail) to a step function and returns
// "delay[verdict]" per attempt, the verdict being what was reported (U, D)
// with the report applied as setCheckerState would.
func runSteps(s *ckState, outcomes string, step func(ok bool, report func(bool)) time.Duration) []string {
	var got []string
	for _, o := range outcomes {
		v := ""
		report := func(alive bool) {
			v += map[bool]string{true: "U", false: "D"}[alive]
			s.up = alive
			s.hasRun = true
		}
		d := step(o == '+', report)
		got = append(got, fmt.Sprintf("%v%s", d, v))
	}
	return got
}

var tm = timing{delayLoop: 10 * time.Second, delayBeforeRetry: 3 * time.Second, retry: 2}

func TestStepGeneric(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		alpha    bool
		outcomes string
		want     []string
	}{
		// First success of a non-alpha checker reports up (no change).
		{"steady", false, "+++", []string{"10sU", "10s", "10s"}},
		// retry 2: two retries after delay_before_retry, then down.
		{"down after retry+1", false, "+---", []string{"10sU", "3s", "3s", "10sD"}},
		{"recovers within retries", false, "+--+-", []string{"10sU", "3s", "3s", "10s", "3s"}},
		{"down stays quiet, up at first success", false, "+-----+", []string{"10sU", "3s", "3s", "10sD", "10s", "10s", "10sU"}},
		// alpha: starts down; failures do not retry, a success brings it up.
		{"alpha", true, "--+", []string{"10s", "10s", "10sU"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newCkState(tc.alpha)
			got := runSteps(&s, tc.outcomes, func(ok bool, r func(bool)) time.Duration { return s.stepGeneric(ok, &tm, r) })
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestStepMisc(t *testing.T) {
	t.Parallel()
	m := timing{delayLoop: 10 * time.Second, delayBeforeRetry: 3 * time.Second, retry: 1}
	s := newCkState(false)
	got := runSteps(&s, "+--+---", func(ok bool, r func(bool)) time.Duration { return s.stepMisc(ok, &m, r) })
	want := []string{"10sU", "3s", "10sD", "10sU", "3s", "10sD", "10s"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

// TestStepHTTP follows check_http.c's epilog over two urls: one url per
// check, retries on the failing url, and recovery through the failed url
// then a full pass.
func TestStepHTTP(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		fast     bool
		outcomes string
		want     []string // delay, verdict, then the url checked next
	}{
		{"steady", false, "++++", []string{"10s>1", "10sU>0", "10s>1", "10s>0"}},
		// Before the first full pass one failure is enough.
		{"fails before a full pass", false, "+-", []string{"10s>1", "10sD>1"}},
		{"down after retries on url 0, recovery", false, "++---" + "-" + "+" + "++",
			[]string{"10s>1", "10sU>0", "3s>0", "3s>0", "10sD>0", // down on url 0
				"10s>0", // still failing: max(dbr, delay_loop) on the failed url
				"10s>0", // the failed url passes: start over from url 0
				"10s>1", "10sU>0"}},
		{"fast recovery", true, "++---" + "+" + "++",
			[]string{"0s>1", "10sU>0", "3s>0", "3s>0", "10sD>0", "0s>0", "0s>1", "10sU>0"}}, // the first pass is immediate too
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newCkState(false)
			got := runSteps(&s, tc.outcomes, func(ok bool, r func(bool)) time.Duration {
				return s.stepHTTP(ok, 2, tc.fast, &tm, r)
			})
			// Re-run to capture the url index after each step.
			s = newCkState(false)
			var urls []string
			for _, o := range tc.outcomes {
				s.stepHTTP(o == '+', 2, tc.fast, &tm, func(alive bool) { s.up, s.hasRun = alive, true })
				urls = append(urls, fmt.Sprint(s.urlIt))
			}
			for i := range got {
				got[i] += ">" + urls[i]
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("(-want +got):\n%s\noutcomes %s", d, strings.Split(tc.outcomes, ""))
			}
		})
	}
}

func TestFileStatus(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		v, w    int64
		reverse bool
		want    int64
	}{
		{0, 0, false, 0}, {1, 0, false, fileFault}, {7, 0, false, fileFault},
		{0, 0, true, fileFault}, {1, 0, true, 0},
		{3, 10, false, 30}, {3, 10, true, -30}, {-100, 10, false, fileFault}, {100, 10, false, 253},
		{1 << 62, 1 << 62, false, 253},
	} {
		if got := fileStatus(tc.v, tc.w, tc.reverse); got != tc.want {
			t.Errorf("fileStatus(%d, %d, %v) = %d, want %d", tc.v, tc.w, tc.reverse, got, tc.want)
		}
	}
}

func BenchmarkStepGeneric(b *testing.B) {
	s := newCkState(false)
	report := func(alive bool) { s.up, s.hasRun = alive, true }
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s.stepGeneric(i%7 != 0, &tm, report)
		i++
	}
}
