package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// wrkResult is what the bench keeps of a wrk run.
type wrkResult struct {
	Requests uint64
	RPS      float64
	P50, P99 time.Duration
	// Errors are socket errors (connect, read, write, timeout) plus non-2xx
	// or 3xx responses.
	Errors uint64
}

// parseWrk reads wrk's report (run with --latency).
func parseWrk(b []byte) (wrkResult, error) {
	var r wrkResult
	var haveRPS, have50, have99 bool
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 2 && f[0] == "Requests/sec:":
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil || v < 0 {
				return r, fmt.Errorf("wrk: bad Requests/sec %q", f[1])
			}
			r.RPS, haveRPS = v, true
		case len(f) == 2 && (f[0] == "50%" || f[0] == "99%"):
			d, err := parseWrkDuration(f[1])
			if err != nil {
				return r, err
			}
			if f[0] == "50%" {
				r.P50, have50 = d, true
			} else {
				r.P99, have99 = d, true
			}
		case len(f) >= 4 && f[1] == "requests" && f[2] == "in":
			v, err := strconv.ParseUint(f[0], 10, 64)
			if err != nil {
				return r, fmt.Errorf("wrk: bad request count %q", f[0])
			}
			r.Requests = v
		case len(f) >= 3 && f[0] == "Socket" && f[1] == "errors:":
			// Socket errors: connect 0, read 0, write 0, timeout 0
			for i := 2; i+1 < len(f); i += 2 {
				v, err := strconv.ParseUint(strings.TrimSuffix(f[i+1], ","), 10, 64)
				if err != nil {
					return r, fmt.Errorf("wrk: bad socket errors %q", sc.Text())
				}
				r.Errors += v
			}
		case len(f) == 5 && f[0] == "Non-2xx":
			v, err := strconv.ParseUint(f[4], 10, 64)
			if err != nil {
				return r, fmt.Errorf("wrk: bad non-2xx count %q", f[4])
			}
			r.Errors += v
		}
	}
	if !haveRPS || !have50 || !have99 {
		return r, fmt.Errorf("wrk: no Requests/sec or latency distribution in the report (run with --latency)")
	}
	return r, nil
}

// parseWrkDuration reads wrk's latencies: 812.00us, 1.23ms, 2.00s, 1.50m.
func parseWrkDuration(s string) (time.Duration, error) {
	units := []struct {
		suffix string
		unit   time.Duration
	}{{"us", time.Microsecond}, {"ms", time.Millisecond}, {"s", time.Second}, {"m", time.Minute}, {"h", time.Hour}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseFloat(num, 64)
			if err != nil || v < 0 || v > 1e12 {
				return 0, fmt.Errorf("wrk: bad latency %q", s)
			}
			if v*float64(u.unit) > float64(1<<62) {
				return 0, fmt.Errorf("wrk: latency %q out of range", s)
			}
			return time.Duration(v * float64(u.unit)), nil
		}
	}
	return 0, fmt.Errorf("wrk: bad latency %q", s)
}

// parseIperf3 reads the receiver's throughput, in bits per second, from
// iperf3 -J.
func parseIperf3(b []byte) (float64, error) {
	var r struct {
		Error string `json:"error"`
		End   struct {
			SumReceived struct {
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"sum_received"`
		} `json:"end"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return 0, fmt.Errorf("iperf3: %w", err)
	}
	if r.Error != "" {
		return 0, fmt.Errorf("iperf3: %s", r.Error)
	}
	if r.End.SumReceived.BitsPerSecond <= 0 {
		return 0, fmt.Errorf("iperf3: no receiver throughput in the report")
	}
	return r.End.SumReceived.BitsPerSecond, nil
}

// parseNftCounter reads the packet count of `nft -j list counter ...`.
func parseNftCounter(b []byte) (uint64, error) {
	var r struct {
		Nftables []struct {
			Counter *struct {
				Packets uint64 `json:"packets"`
			} `json:"counter"`
		} `json:"nftables"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return 0, fmt.Errorf("nft counter: %w", err)
	}
	for _, o := range r.Nftables {
		if o.Counter != nil {
			return o.Counter.Packets, nil
		}
	}
	return 0, fmt.Errorf("nft counter: no counter in %q", b)
}
