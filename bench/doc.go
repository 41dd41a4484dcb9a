// Package bench holds ulvs's benchmark harness: end-to-end comparisons of
// the data path against its peers on a netns topology, and the collection of
// micro-benchmarks into dated result files.
//
//   - bench/lbbench is `make bench`'s end-to-end part: direct, nftables DR
//     and NAT, HAProxy, nginx stream and ulvs DR/NAT/TUN under the same
//     loads, interleaved over rounds, with the Go micro-benchmarks merged
//     into bench/results/<date>.json, .md and one SVG per metric.
//   - bench/healthbench measures the CPU and memory of health checking.
//   - bench/results keeps what the runs recorded.
package bench
