package ipvs

import "testing"

func TestParseTableSize(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want int
	}{
		{"IP Virtual Server version 1.2.1 (size=4096)\nProt LocalAddress:Port Scheduler Flags\n", 4096},
		{"IP Virtual Server version 1.2.1 (size=1048576)\n", 1048576},
		{"", DefaultTableSize},
		{"something else\n", DefaultTableSize},
	} {
		if got := parseTableSize(tc.in); got != tc.want {
			t.Errorf("parseTableSize(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}
