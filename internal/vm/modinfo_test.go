package vm

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseModinfo(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    Modinfo
		deps    []string
		pre     []string
		wantErr string
	}{
		{name: "empty", in: ""},
		{
			// The layout of ip_vs.ko's section in Debian's 6.1 kernel.
			name: "ip_vs",
			in:   "license=GPL\x00depends=nf_conntrack,libcrc32c,nf_defrag_ipv6\x00retpoline=Y\x00\x00\x00name=ip_vs\x00",
			want: Modinfo{{"license", "GPL"}, {"depends", "nf_conntrack,libcrc32c,nf_defrag_ipv6"}, {"retpoline", "Y"},
				{"name", "ip_vs"}},
			deps: []string{"nf_conntrack", "libcrc32c", "nf_defrag_ipv6"},
		},
		{
			name: "softdep and empty depends",
			in:   "softdep=pre: crc32c\x00depends=\x00",
			want: Modinfo{{"softdep", "pre: crc32c"}, {"depends", ""}},
			pre:  []string{"crc32c"},
		},
		{name: "dash in dependency", in: "depends=crc32c-intel\x00", want: Modinfo{{"depends", "crc32c-intel"}},
			deps: []string{"crc32c_intel"}},
		{name: "value with =", in: "parm=x:a=b\x00", want: Modinfo{{"parm", "x:a=b"}}},
		{name: "unterminated", in: "license=GPL", wantErr: "not NUL-terminated"},
		{name: "no =", in: "license\x00", wantErr: "not key=value"},
		{name: "empty key", in: "=x\x00", wantErr: "not key=value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseModinfo([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseModinfo(%q) error = %v, want %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseModinfo (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.deps, got.Depends()); diff != "" {
				t.Errorf("Depends (-want +got):\n%s", diff)
			}
			pre, _ := got.SoftDeps()
			if diff := cmp.Diff(tt.pre, pre); diff != "" {
				t.Errorf("SoftDeps pre (-want +got):\n%s", diff)
			}
		})
	}
}

func TestModinfoSoftDepsPost(t *testing.T) {
	t.Parallel()
	m := Modinfo{{"softdep", "pre: a b post: c"}}
	pre, post := m.SoftDeps()
	if diff := cmp.Diff([]string{"a", "b"}, pre); diff != "" {
		t.Errorf("pre (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"c"}, post); diff != "" {
		t.Errorf("post (-want +got):\n%s", diff)
	}
}

func FuzzModinfo(f *testing.F) {
	f.Add([]byte("license=GPL\x00depends=nf_conntrack,libcrc32c\x00\x00name=ip_vs\x00"))
	f.Add([]byte("softdep=pre: crc32c\x00depends=\x00"))
	f.Add([]byte("a=\x00\x00\x00b==\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseModinfo(b)
		if err != nil {
			return
		}
		m.Depends()
		m.SoftDeps()
		enc, err := m.AppendBinary(nil)
		if err != nil {
			t.Fatalf("AppendBinary of a parsed section: %v", err)
		}
		m2, err := ParseModinfo(enc)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if diff := cmp.Diff(m, m2); diff != "" {
			t.Fatalf("parse → append → parse is not a fixed point (-first +second):\n%s", diff)
		}
	})
}
