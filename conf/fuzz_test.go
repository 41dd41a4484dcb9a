package conf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the reader and parser. Nothing may
// panic, and the canonical dump must be a fixed point: reading the dump
// back gives the same dump, and a configuration without errors dumps to one
// without errors.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "seed-configs", "*"))
	shared, _ := filepath.Glob(filepath.Join("..", "..", "shared", "seed-configs", "*"))
	{
		for _, p := range append(files, shared...) {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
	}
	for _, s := range []string{
		"global_defs {\n router_id a\\#b\n}\n",
		"$A=x\n$M=\\\nvrrp_script s {\\\nscript /bin/true\\\n}\n$M\n",
		"virtual_server_group g {\n~SEQ(i,3) 198.18.0.$i 80\n~LST({h,p},{1,2}) 198.18.1.$h $p\n}\n",
		"vrrp_instance V { interface eth0\nvirtual_router_id 1\nnotify \"/x 'a b' \\x41\" u g }\n",
		"@n1 global_defs { } }\n{\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		const name = "/nonexistent/f.conf"
		opts := Options{ConfigID: "n1", Env: func(string) string { return "" }, noInclude: true}
		res1, err1 := Parse(name, data, opts)
		dump1 := DumpString(res1.Tree)
		// Text that the dump cannot escape: a "$_NAME" built-in reference
		// that was literal in the input would be expanded on re-reading.
		if strings.Contains(dump1, "$_") || strings.Contains(dump1, "${") {
			return
		}
		res2, err2 := Parse(name, []byte(dump1), opts)
		dump2 := DumpString(res2.Tree)
		if dump1 != dump2 {
			t.Fatalf("dump is not a fixed point:\n--- first\n%s\n--- second\n%s", dump1, dump2)
		}
		if err1 == nil && err2 != nil {
			t.Fatalf("a clean configuration dumped to one with errors: %v\n%s", err2, dump1)
		}
	})
}
