package canserve

import "testing"

func TestParseMode(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want Mode
		err  bool
	}{
		{"", Mode{On: true}, false},
		{"fault", Mode{On: true}, false},
		{"off", Mode{}, false},
		{"-1", Mode{On: true, Weight: -1}, false},
		{"-254", Mode{On: true, Weight: -254}, false},
		{"0", Mode{}, true},
		{"10", Mode{}, true},
		{"-255", Mode{}, true},
		{"FAULT", Mode{}, true},
		{"-x", Mode{}, true},
	} {
		got, err := ParseMode(tc.in)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("ParseMode(%q) = %+v, %v; want %+v, error %t", tc.in, got, err, tc.want, tc.err)
		}
	}
}
