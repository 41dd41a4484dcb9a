package health

import (
	"bytes"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseSMTPReply(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		in   string
		want *SMTPReply
		n    int
		err  error // errSMTPIncomplete, or any error when errAny
		bad  bool
	}{
		{name: "greeting", in: "220 vm ESMTP OpenSMTPD\r\n", want: &SMTPReply{220, []string{"vm ESMTP OpenSMTPD"}}, n: 24},
		{name: "multi-line", in: "250-mx Hello\r\n250-SIZE 1000\r\n250 HELP\r\nrest",
			want: &SMTPReply{250, []string{"mx Hello", "SIZE 1000", "HELP"}}, n: 39},
		{name: "bare LF and no text", in: "221\n", want: &SMTPReply{221, []string{""}}, n: 4},
		{name: "incomplete", in: "250-mx Hello\r\n250 HE", err: errSMTPIncomplete},
		{name: "incomplete first line", in: "22", err: errSMTPIncomplete},
		{name: "not a code", in: "hello\r\n", bad: true},
		{name: "mixed codes", in: "250-a\r\n251 b\r\n", bad: true},
		{name: "bad separator", in: "250+a\r\n", bad: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, n, err := ParseSMTPReply([]byte(tc.in))
			switch {
			case tc.err != nil:
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				return
			case tc.bad:
				if err == nil || errors.Is(err, errSMTPIncomplete) {
					t.Fatalf("err = %v, want a parse error", err)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, r); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
			if n != tc.n {
				t.Errorf("consumed %d, want %d", n, tc.n)
			}
		})
	}
}

// FuzzParseSMTPReply: no panic, and parse → append → parse is a fixed
// point.
func FuzzParseSMTPReply(f *testing.F) {
	for _, s := range []string{
		"220 vm ESMTP OpenSMTPD\r\n",
		"250-mx Hello\r\n250-SIZE 1000\r\n250 HELP\r\n",
		"221\n",
		"250 a\r\r\n",
		"554-x\r\n554 y\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, n, err := ParseSMTPReply(b)
		if err != nil {
			return
		}
		if n <= 0 || n > len(b) {
			t.Fatalf("consumed %d of %d", n, len(b))
		}
		out, err := r.AppendBinary(nil)
		if err != nil {
			t.Fatalf("parsed reply does not append: %v", err)
		}
		r2, n2, err := ParseSMTPReply(out)
		if err != nil || n2 != len(out) {
			t.Fatalf("appended reply does not parse whole: %v (%d of %d) %q", err, n2, len(out), out)
		}
		if d := cmp.Diff(r, r2); d != "" {
			t.Fatalf("not a fixed point (-first +second):\n%s", d)
		}
		out2, _ := r2.AppendBinary(nil)
		if !bytes.Equal(out, out2) {
			t.Fatalf("append differs: %q vs %q", out, out2)
		}
	})
}
