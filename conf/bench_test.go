package conf

import (
	"fmt"
	"strings"
	"testing"
)

// genConfig writes a configuration with nvs virtual servers of nrs real
// servers each, one real server per line.
func genConfig(nvs, nrs int) []byte {
	var b strings.Builder
	b.WriteString("global_defs {\n    router_id bench\n}\n")
	for v := 0; v < nvs; v++ {
		fmt.Fprintf(&b, "virtual_server 198.18.%d.%d 80 {\n    lb_algo wlc\n    lb_kind DR\n    delay_loop 6\n",
			v/250, v%250+1)
		for r := 0; r < nrs; r++ {
			fmt.Fprintf(&b, "    real_server 198.19.%d.%d 80 { weight %d }\n", r, v%250+1, r%5+1)
		}
		b.WriteString("}\n")
	}
	return []byte(b.String())
}

// BenchmarkParse500x20 parses a generated config of 500 virtual servers
// with 20 real servers each (about 12,000 lines).
func BenchmarkParse500x20(b *testing.B) {
	data := genConfig(500, 20)
	lines := strings.Count(string(data), "\n")
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		res, err := Parse("bench.conf", data, Options{ConfigID: "bench"})
		if err != nil || len(res.Config.VirtualServers) != 500 {
			b.Fatalf("parse: %v", err)
		}
	}
	b.ReportMetric(float64(lines), "lines")
}

func TestGeneratedConfigLoads(t *testing.T) {
	t.Parallel()
	res, err := Parse("gen.conf", genConfig(500, 20), Options{ConfigID: "x"})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, vs := range res.Config.VirtualServers {
		n += len(vs.RealServers)
	}
	if len(res.Config.VirtualServers) != 500 || n != 10000 {
		t.Fatalf("got %d virtual servers, %d real servers", len(res.Config.VirtualServers), n)
	}
}
