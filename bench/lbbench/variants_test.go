package main

import (
	"slices"
	"testing"
)

// TestAddVariants: each LABEL=BINARY [OPTION...] adds its DR and NAT
// scenarios before the VM ones; a malformed item or a missing binary is an
// error naming it.
func TestAddVariants(t *testing.T) {
	saved := scenarios
	defer func() { scenarios = saved }()
	if err := addVariants("v2=- --ring-version 2"); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range scenarios {
		names = append(names, s.name)
	}
	i, j := slices.Index(names, "ulvs DR v2"), slices.Index(names, "ulvs NAT v2")
	vm := slices.Index(names, "IPVS DR (VM)")
	if i < 0 || j != i+1 || vm != j+1 {
		t.Fatalf("scenarios %q: want ulvs DR v2, ulvs NAT v2 just before the VM ones", names)
	}
	scenarios = saved
	for _, bad := range []string{"v2", "=bin/ulvsd", "v2=", "v2=/nonexistent/ulvsd"} {
		if err := addVariants(bad); err == nil {
			t.Errorf("addVariants(%q): no error", bad)
		}
	}
	if len(scenarios) != len(saved) {
		t.Errorf("a failed addVariants changed the scenarios")
	}
}
