package health

import "testing"

// TestKinds walks the table of checker kinds: every row has a keyword
// (unique, found again by KindNamed), a build, and defaults that make
// sense; a row missing any of it fails here.
func TestKinds(t *testing.T) {
	t.Parallel()
	seen := map[string]Kind{}
	for k, s := range kinds {
		if s.name == "" || s.build == nil {
			t.Errorf("kind %d: a keyword and a build are required", k)
		}
		if other, dup := seen[s.name]; dup {
			t.Errorf("kinds %d and %d are both %s", k, other, s.name)
		}
		seen[s.name] = k
		if got, ok := KindNamed(s.name); !ok || got != k || k.String() != s.name {
			t.Errorf("%s: KindNamed = %d, %t; String = %s", s.name, got, ok, k.String())
		}
		if s.retry < 0 || s.needPort && s.port != 0 {
			t.Errorf("%s: retry %d, needPort %t with port %d", s.name, s.retry, s.needPort, s.port)
		}
	}
	if _, ok := KindNamed("NO_SUCH_CHECK"); ok || Kind(0).String() != "UNKNOWN_CHECK" {
		t.Error("an unknown kind has a name")
	}
}
