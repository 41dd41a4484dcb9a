package vm

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fakeIndex is an index over modules described in memory.
func fakeIndex(mods map[string]Modinfo, builtin ...string) *ModuleIndex {
	x := &ModuleIndex{files: map[string]string{}, builtin: map[string]bool{}, cache: map[string]*Module{}}
	for n := range mods {
		x.files[n] = "/fake/" + n + ".ko"
	}
	for _, b := range builtin {
		x.builtin[b] = true
	}
	x.read = func(p string) (Modinfo, error) {
		n := strings.TrimSuffix(strings.TrimPrefix(p, "/fake/"), ".ko")
		m, ok := mods[n]
		if !ok {
			return nil, fmt.Errorf("no %s", p)
		}
		return m, nil
	}
	return x
}

func names(ms []*Module) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Name)
	}
	return out
}

func TestClosure(t *testing.T) {
	t.Parallel()
	// The ip_vs part of Debian's 6.1 kernel, as its .modinfo sections say.
	kernel := map[string]Modinfo{
		"ip_vs":          {{"depends", "nf_conntrack,libcrc32c,nf_defrag_ipv6"}},
		"ip_vs_rr":       {{"depends", "ip_vs"}},
		"ip_vs_sh":       {{"depends", "ip_vs"}},
		"nf_conntrack":   {{"depends", "nf_defrag_ipv4,nf_defrag_ipv6,libcrc32c"}},
		"nf_defrag_ipv4": {{"depends", ""}},
		"nf_defrag_ipv6": {{"depends", ""}},
		"libcrc32c":      {{"softdep", "pre: crc32c"}, {"depends", ""}},
		"crc32c_generic": {{"alias", "crc32c"}, {"alias", "crypto-crc32c"}, {"depends", ""}},
		"crc32c_intel":   {{"alias", "crc32c"}, {"depends", ""}},
		"virtio_net":     {{"depends", "net_failover,virtio,virtio_ring"}},
		"net_failover":   {{"depends", "failover"}},
		"failover":       {{"depends", ""}},
		"loop_a":         {{"depends", "loop_b"}},
		"loop_b":         {{"depends", "loop_a"}},
		"needs_missing":  {{"depends", "nowhere"}},
	}
	tests := []struct {
		name    string
		in      []string
		builtin []string
		want    []string
		wantErr string
	}{
		{name: "ip_vs_rr", in: []string{"ip_vs_rr"},
			want: []string{"crc32c_generic", "libcrc32c", "nf_defrag_ipv4", "nf_defrag_ipv6", "nf_conntrack", "ip_vs", "ip_vs_rr"}},
		{name: "shared dependencies once", in: []string{"ip_vs_rr", "ip_vs-sh"},
			want: []string{"crc32c_generic", "libcrc32c", "nf_defrag_ipv4", "nf_defrag_ipv6", "nf_conntrack", "ip_vs", "ip_vs_rr", "ip_vs_sh"}},
		{name: "built-ins are skipped", in: []string{"virtio_net"}, builtin: []string{"virtio", "virtio_ring"},
			want: []string{"failover", "net_failover", "virtio_net"}},
		{name: "built-in softdep alias", in: []string{"libcrc32c"}, builtin: []string{"crc32c_generic"},
			want: []string{"libcrc32c"}},
		{name: "unknown", in: []string{"ip_vs_nope"}, wantErr: "ip_vs_nope not found"},
		{name: "unknown dependency", in: []string{"needs_missing"}, wantErr: "nowhere not found (needed by needs_missing)"},
		{name: "cycle", in: []string{"loop_a"}, wantErr: "cycle"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			x := fakeIndex(kernel, tt.builtin...)
			got, err := x.Closure(tt.in...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Closure(%v) error = %v, want %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, names(got)); diff != "" {
				t.Errorf("Closure(%v) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}
