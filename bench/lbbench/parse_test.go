package main

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseWrk(t *testing.T) {
	t.Parallel()
	sample, err := os.ReadFile("testdata/wrk-close.txt")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		in      string
		want    wrkResult
		wantErr string
	}{
		{"wrk 4.1 report", string(sample), wrkResult{Requests: 1211, RPS: 1208.69, P50: 2650 * time.Microsecond,
			P99: 11380 * time.Microsecond}, ""},
		{"errors", "  Latency Distribution\n     50%  812.00us\n     99%    1.50s\n  10 requests in 1.00s, 1KB read\n" +
			"  Socket errors: connect 1, read 2, write 0, timeout 3\n  Non-2xx or 3xx responses: 4\nRequests/sec:     10.00\n",
			wrkResult{Requests: 10, RPS: 10, P50: 812 * time.Microsecond, P99: 1500 * time.Millisecond, Errors: 10}, ""},
		{"no latency", "Requests/sec:     10.00\n", wrkResult{}, "latency distribution"},
		{"bad latency", "     50%  12.0xs\n", wrkResult{}, "bad latency"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseWrk([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parseWrk (-want +got):\n%s", diff)
			}
		})
	}
}

// formatWrk writes the parts of a wrk report that parseWrk reads.
func formatWrk(r wrkResult) string {
	return fmt.Sprintf("  Latency Distribution\n     50%% %.2fus\n     99%% %.2fus\n  %d requests in 1.00s, 1KB read\n"+
		"  Socket errors: connect %d, read 0, write 0, timeout 0\nRequests/sec: %f\n",
		float64(r.P50)/1e3, float64(r.P99)/1e3, r.Requests, r.Errors, r.RPS)
}

func FuzzParseWrk(f *testing.F) {
	if b, err := os.ReadFile("testdata/wrk-close.txt"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("     50%  812.00us\n     99%    1.50s\nRequests/sec: 1\n  Socket errors: connect 1, read 2\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseWrk(b)
		if err != nil {
			return
		}
		r2, err := parseWrk([]byte(formatWrk(r)))
		if err != nil {
			t.Fatalf("re-parse: %v\n%s", err, formatWrk(r))
		}
		// Latencies are printed to 10 ns; requests/s to 1e-6.
		if d := r.P50 - r2.P50; d > 10 || d < -10 {
			t.Fatalf("P50 %v became %v", r.P50, r2.P50)
		}
		if r.Requests != r2.Requests || r.Errors != r2.Errors {
			t.Fatalf("%+v became %+v", r, r2)
		}
	})
}

func TestParseIperf3(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("testdata/iperf3.json")
	if err != nil {
		t.Fatal(err)
	}
	got, err := parseIperf3(b)
	if err != nil {
		t.Fatal(err)
	}
	if want := 23191867131.10525; got != want {
		t.Errorf("parseIperf3 = %v, want %v", got, want)
	}
	for _, bad := range []string{`{"error":"unable to connect to server"}`, `{}`, `not json`} {
		if _, err := parseIperf3([]byte(bad)); err == nil {
			t.Errorf("parseIperf3(%q) accepted", bad)
		}
	}
}

func TestParseNftCounter(t *testing.T) {
	t.Parallel()
	// nft 1.0.6 -j list counter inet lbbench_sink udpsink
	in := `{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}, ` +
		`{"counter": {"family": "inet", "name": "udpsink", "table": "lbbench_sink", "handle": 1, "packets": 986384, "bytes": 45373664}}]}`
	got, err := parseNftCounter([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if got != 986384 {
		t.Errorf("parseNftCounter = %d, want 986384", got)
	}
	if _, err := parseNftCounter([]byte(`{"nftables": []}`)); err == nil {
		t.Error("a listing without a counter was accepted")
	}
}

func TestMedian(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   []float64
		want float64
	}{{[]float64{3, 1, 2}, 2}, {[]float64{4, 1, 3, 2}, 2.5}, {[]float64{7}, 7}} {
		if got := median(tt.in); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestSummarizeAndReport(t *testing.T) {
	t.Parallel()
	r := &Results{Date: "2026-11-23T00:00:00Z", Order: []string{"direct", "nft DR"}, Metrics: map[string]*Metric{
		"keepalive_rps": {metricInfo: metrics["keepalive_rps"], Rounds: map[string][]float64{
			"direct": {100, 110, 90}, "nft DR": {120, 100, 130}}},
		"close_p99_ms": {metricInfo: metrics["close_p99_ms"], Rounds: map[string][]float64{
			"direct": {2, 2, 2}, "nft DR": {4, 4, 5}}},
		"cpu_ns_per_packet": {metricInfo: metrics["cpu_ns_per_packet"], Rounds: map[string][]float64{
			"direct": {0, 0, 0}, "nft DR": {500, 600, 700}}},
	}}
	r.summarize()
	if got := r.Metrics["keepalive_rps"].Ratio["nft DR"]; got != 1.2 {
		t.Errorf("keep-alive ratio %v, want 1.2", got)
	}
	// Lower is better: the ratio is direct / scenario.
	if got := r.Metrics["close_p99_ms"].Ratio["nft DR"]; got != 0.5 {
		t.Errorf("p99 ratio %v, want 0.5", got)
	}
	if r.Metrics["cpu_ns_per_packet"].Ratio != nil {
		t.Error("CPU costs have no ratio")
	}
	md := r.markdown("x")
	for _, want := range []string{"| nft DR | 120.0 (100.0–130.0) [1.20] |", "| direct | 100.0 (90.0–110.0) |", "600.0 (500.0–700.0)"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	svg := barChart("keepalive_rps", r.Metrics["keepalive_rps"], r.Order)
	if !strings.HasPrefix(svg, "<svg") || !strings.Contains(svg, "nft DR") || !strings.Contains(svg, "(1.20×)") {
		t.Errorf("chart:\n%s", svg)
	}
}

func TestPeerOf(t *testing.T) {
	t.Parallel()
	order := []string{"direct", "nft DR", "nft NAT", "ulvs DR", "ulvs NAT v3", "ulvs TUN", "HAProxy", "IPVS DR (VM)", "ulvs DR XDP (VM)"}
	for s, want := range map[string]string{
		"ulvs DR": "nft DR", "ulvs NAT v3": "nft NAT", "ulvs DR XDP (VM)": "IPVS DR (VM)",
		"ulvs TUN": "", "HAProxy": "", "nft DR": "", "direct": "", "IPVS DR (VM)": "",
	} {
		if got := peerOf(s, order); got != want {
			t.Errorf("peerOf(%q) = %q, want %q", s, got, want)
		}
	}
	if got := peerOf("ulvs DR", []string{"direct", "ulvs DR"}); got != "" {
		t.Errorf("peerOf without nft DR in the run = %q", got)
	}
}

// TestPeerRatio: ratios pair values of the same round, so a round one side
// lost is left out rather than shifting the other rounds against each
// other; lower-is-better metrics divide the other way; results written
// before RoundOf pair by position.
func TestPeerRatio(t *testing.T) {
	t.Parallel()
	r := &Results{Order: []string{"direct", "nft NAT", "ulvs NAT", "ulvs TUN"}, Metrics: map[string]*Metric{
		"close_rps": {metricInfo: metrics["close_rps"],
			Rounds:  map[string][]float64{"direct": {10, 10, 10}, "nft NAT": {100, 200, 400}, "ulvs NAT": {50, 300}, "ulvs TUN": {1, 1, 1}},
			RoundOf: map[string][]int{"direct": {1, 2, 3}, "nft NAT": {1, 2, 3}, "ulvs NAT": {1, 3}, "ulvs TUN": {1, 2, 3}}},
		"cpu_ns_per_packet": {metricInfo: metrics["cpu_ns_per_packet"],
			Rounds: map[string][]float64{"direct": {0, 0, 0}, "nft NAT": {1000, 1000, 900}, "ulvs NAT": {2000, 500, 900}}},
		"udp_loss_pct": {metricInfo: metrics["udp_loss_pct"],
			Rounds: map[string][]float64{"nft NAT": {1, 1, 1}, "ulvs NAT": {2, 2, 2}}},
	}}
	r.summarize()
	pr := r.Metrics["close_rps"].Peer["ulvs NAT"]
	if pr == nil || pr.Peer != "nft NAT" || !slices.Equal(pr.Rounds, []float64{0.5, 0.75}) || pr.Median != 0.625 || pr.Min != 0.5 || pr.Max != 0.75 {
		t.Errorf("close_rps against nft NAT: %+v, want rounds [0.5 0.75] (round 2 lost), median 0.625", pr)
	}
	if p := r.Metrics["close_rps"].Peer; p["ulvs TUN"] != nil || p["nft NAT"] != nil || p["direct"] != nil {
		t.Errorf("peer ratios for scenarios without a peer: %v", p)
	}
	// A cost: peer / scenario, so above 1 is still better; no RoundOf
	// (an older results file) pairs by position.
	if pr := r.Metrics["cpu_ns_per_packet"].Peer["ulvs NAT"]; pr == nil || !slices.Equal(pr.Rounds, []float64{0.5, 2, 1}) || pr.Median != 1 {
		t.Errorf("CPU against nft NAT: %+v, want rounds [0.5 2 1]", pr)
	}
	if r.Metrics["udp_loss_pct"].Peer != nil {
		t.Error("a ratio of loss percentages")
	}
	md := r.markdown("x")
	for _, want := range []string{"| scenario | peer | close_rps | cpu_ns_per_packet |", "| ulvs NAT | nft NAT | 0.62 (0.50–0.75) | 1.00 (0.50–2.00) |"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	if _, peers, _ := strings.Cut(md, "Against the kernel's own balancer"); strings.Contains(peers, "ulvs TUN") {
		t.Errorf("ulvs TUN, which has no peer, has a row:\n%s", md)
	}
}

// TestShellJoin: the command a results file records runs when pasted into
// sh, spaces, quotes and empty arguments included.
func TestShellJoin(t *testing.T) {
	t.Parallel()
	args := []string{"bin/lbbench", "-rounds", "5", "-scenarios", "direct,nft DR,ulvs DR", "-variants", "v2=- --ring-version 2", "it's", "", "-out", "bench/results/x"}
	got := shellJoin(args)
	want := `bin/lbbench -rounds 5 -scenarios 'direct,nft DR,ulvs DR' -variants 'v2=- --ring-version 2' 'it'\''s' '' -out bench/results/x`
	if got != want {
		t.Fatalf("shellJoin = %s\nwant       %s", got, want)
	}
	out, err := exec.Command("sh", "-c", "printargs() { for a in \"$@\"; do printf '[%s]' \"$a\"; done; }; printargs "+got).Output()
	if err != nil {
		t.Fatal(err)
	}
	var wantOut strings.Builder
	for _, a := range args {
		wantOut.WriteString("[" + a + "]")
	}
	if string(out) != wantOut.String() {
		t.Errorf("sh read %s\nwant    %s", out, wantOut.String())
	}
}
