package deptest

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoBuiltBinaries: no program built from the tree is committed to it
// (`go build ./cmd/X` without -o leaves X in the current directory, and
// `git add -A` took three of them once). An ELF file in the tree must be
// an eBPF object (bpf2go's committed output).
func TestNoBuiltBinaries(t *testing.T) {
	out, err := exec.Command("git", "-C", "../..", "ls-files", "-z").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	const emBPF = 247
	for _, name := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		f, err := os.Open(filepath.Join("../..", name))
		if err != nil {
			continue // deleted in the working tree
		}
		var head [20]byte
		n, _ := f.Read(head[:])
		f.Close()
		if n < 20 || !bytes.Equal(head[:4], []byte("\x7fELF")) {
			continue
		}
		if binary.LittleEndian.Uint16(head[18:]) != emBPF {
			t.Errorf("%s is a compiled program (ELF, machine %d): build into bin/ (go build -o bin/ ./cmd/...) and do not commit it",
				name, binary.LittleEndian.Uint16(head[18:]))
		}
	}
}
