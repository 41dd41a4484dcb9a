// Package bench holds ulvs's benchmark harness: end-to-end comparisons of
// the data path against its peers on a netns topology, and the collection of
// micro-benchmarks into dated result files.
package bench
