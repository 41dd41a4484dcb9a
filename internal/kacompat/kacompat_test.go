package kacompat

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/ulvs/ulvs/conf"
)

func TestSignalNumber(t *testing.T) {
	t.Parallel()
	// keepalived 2.2.7 (Debian 12), `keepalived --signum=NAME`.
	for name, want := range map[string]syscall.Signal{"STOP": 15, "RELOAD": 1, "DATA": 10, "STATS": 12,
		"STATS_CLEAR": 63, "JSON": 36} {
		if got, ok := SignalNumber(name); !ok || got != want {
			t.Errorf("SignalNumber(%q) = %d, %v; want %d", name, got, ok, want)
		}
	}
	for _, name := range []string{"json", "TDUMP", "RELOAD_CHILD", ""} {
		if n, ok := SignalNumber(name); ok {
			t.Errorf("SignalNumber(%q) = %d; keepalived 2.2.7 does not know it", name, n)
		}
	}
}

func TestWriteVersion(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	WriteVersion(&b, "1.2.3", CurrentFeatures())
	out := b.String()
	first, _, ok := strings.Cut(out, "\n")
	if !ok {
		t.Fatalf("one line only: %q", out)
	}
	// Exporters split the first line on spaces and parse the second word
	// after its "v".
	words := strings.Split(first, " ")
	if len(words) < 2 || words[0] != "Keepalived" || words[1] != "v"+KeepalivedVersion {
		t.Errorf("first line %q does not start with keepalived's words", first)
	}
	for _, want := range []string{"ulvs 1.2.3", "not keepalived"} {
		if !strings.Contains(first, want) {
			t.Errorf("first line %q does not say %q", first, want)
		}
	}
	for _, want := range []string{"\nconfigure options: --enable-json ", "\nConfig options:  LVS VRRP ", " JSON "} {
		if !strings.Contains(out, want) {
			t.Errorf("version text lacks %q:\n%s", want, out)
		}
	}
	// --enable-regex follows the registry: there while url regex is
	// supported (its effect shown by a test), absent while not honoured.
	regex := false
	for _, k := range conf.Keywords() {
		regex = regex || k.Block == "url" && k.Keyword == "regex" && k.Status == conf.Supported
	}
	if strings.Contains(out, "--enable-regex") != regex {
		t.Errorf("version text and the registry disagree on regex (supported: %v):\n%s", regex, out)
	}
	for _, unwanted := range []string{"--enable-snmp", "--enable-bfd", "--enable-dbus"} {
		if strings.Contains(out, unwanted) {
			t.Errorf("version text claims %s, which ulvs refuses:\n%s", unwanted, out)
		}
	}
}

// TestWriteFileAtomic rewrites a dump while readers read it in a loop:
// every read sees one whole version.
func TestWriteFileAtomic(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "keepalived.data")
	body := func(i int) string { return strings.Repeat(string(rune('a'+i%26)), 64<<10) + "\n" }
	if err := WriteFile(path, 0o600, func(w io.Writer) error { _, err := io.WriteString(w, body(0)); return err }); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	var bad atomic.Value
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				b, err := os.ReadFile(path)
				if err != nil || len(b) != 64<<10+1 || strings.Count(string(b), string(b[0])) != 64<<10 {
					bad.Store(len(b))
					return
				}
			}
		}()
	}
	for i := 1; i < 100; i++ {
		if err := WriteFile(path, 0o600, func(w io.Writer) error { _, err := io.WriteString(w, body(i)); return err }); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	if v := bad.Load(); v != nil {
		t.Errorf("a reader saw a partial dump (%d bytes)", v)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, %v; want 0600", st.Mode(), err)
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*"))
	if len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
	// A failed dump leaves the previous one whole and no temporary file.
	if err := WriteFile(path, 0o600, func(w io.Writer) error { io.WriteString(w, "half"); return errors.New("boom") }); err == nil {
		t.Error("WriteFile hid the writer's error")
	}
	if b, _ := os.ReadFile(path); string(b) != body(99) {
		t.Error("a failed dump replaced the previous one")
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*")); len(left) != 0 {
		t.Errorf("temporary files left behind after a failure: %v", left)
	}
}
