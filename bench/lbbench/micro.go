package main

import (
	"fmt"
	"os"
	"slices"

	"golang.org/x/perf/benchfmt"
)

// Micro is one Go micro-benchmark: the median over its -count runs.
type Micro struct {
	Pkg         string             `json:"pkg"`
	Name        string             `json:"name"`
	NsPerOp     float64            `json:"ns_per_op"`
	BytesPerOp  float64            `json:"bytes_per_op"`
	AllocsPerOp float64            `json:"allocs_per_op"`
	Other       map[string]float64 `json:"other,omitempty"`
}

// readMicro reads `go test -bench` output (the Go benchmark format,
// parsed with golang.org/x/perf/benchfmt).
func readMicro(path string) ([]Micro, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	type key struct{ pkg, name string }
	vals := map[key]map[string][]float64{}
	var order []key
	r := benchfmt.NewReader(f, path)
	for r.Scan() {
		res, ok := r.Result().(*benchfmt.Result)
		if !ok {
			continue
		}
		k := key{res.GetConfig("pkg"), string(res.Name.Full())}
		if vals[k] == nil {
			vals[k] = map[string][]float64{}
			order = append(order, k)
		}
		for _, v := range res.Values {
			vals[k][v.Unit] = append(vals[k][v.Unit], v.Value)
		}
	}
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []Micro
	for _, k := range order {
		m := Micro{Pkg: k.pkg, Name: k.name}
		for unit, v := range vals[k] {
			med := median(v)
			switch unit {
			case "sec/op":
				m.NsPerOp = med * 1e9
			case "ns/op":
				m.NsPerOp = med
			case "B/op":
				m.BytesPerOp = med
			case "allocs/op":
				m.AllocsPerOp = med
			default:
				if m.Other == nil {
					m.Other = map[string]float64{}
				}
				m.Other[unit] = med
			}
		}
		out = append(out, m)
	}
	slices.SortStableFunc(out, func(a, b Micro) int {
		if a.Pkg != b.Pkg {
			if a.Pkg < b.Pkg {
				return -1
			}
			return 1
		}
		return 0
	})
	return out, nil
}
