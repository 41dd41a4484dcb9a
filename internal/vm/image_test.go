package vm

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/cavaliergopher/cpio"
	"github.com/google/go-cmp/cmp"
)

type archived struct {
	Mode cpio.FileMode
	Body string
}

func TestImageWriteTo(t *testing.T) {
	t.Parallel()
	host := filepath.Join(t.TempDir(), "prog")
	if err := os.WriteFile(host, []byte("#!/bin/sh\necho hi\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	im := NewImage()
	for _, err := range []error{
		im.File("/sbin/prog", host, 0o755),
		im.Bytes("/etc/modules.order", []byte("ip_vs\n"), 0o644),
		im.Symlink("/bin/sh", "busybox"),
		im.Dir("/proc"),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	n, err := im.WriteTo(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(buf.Len()) {
		t.Errorf("WriteTo returned %d, wrote %d bytes", n, buf.Len())
	}
	got := map[string]archived{}
	var order []string
	r := cpio.NewReader(&buf)
	for {
		h, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		if h.Mode&cpio.ModeType == cpio.TypeSymlink && len(body) == 0 {
			body = []byte(h.Linkname)
		}
		got[h.Name] = archived{Mode: h.Mode, Body: string(body)}
		order = append(order, h.Name)
	}
	want := map[string]archived{
		"bin":               {Mode: cpio.TypeDir | 0o755},
		"bin/sh":            {Mode: cpio.TypeSymlink | 0o777, Body: "busybox"},
		"etc":               {Mode: cpio.TypeDir | 0o755},
		"etc/modules.order": {Mode: cpio.TypeReg | 0o644, Body: "ip_vs\n"},
		"proc":              {Mode: cpio.TypeDir | 0o755},
		"sbin":              {Mode: cpio.TypeDir | 0o755},
		"sbin/prog":         {Mode: cpio.TypeReg | 0o755, Body: "#!/bin/sh\necho hi\n"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("archive (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"bin", "bin/sh", "etc", "etc/modules.order", "proc", "sbin", "sbin/prog"}, order); diff != "" {
		t.Errorf("order: parents must precede children (-want +got):\n%s", diff)
	}
}

func TestImageErrors(t *testing.T) {
	t.Parallel()
	im := NewImage()
	if err := im.Bytes("relative", nil, 0o644); err == nil {
		t.Error("a relative path was accepted")
	}
	if err := im.Bytes("/", nil, 0o644); err == nil {
		t.Error("the root was accepted as a file")
	}
	if err := im.Bytes("/etc", []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := im.Bytes("/etc/passwd", nil, 0o644); err == nil {
		t.Error("a file under a regular file was accepted")
	}
	if err := im.File("/x", "/nonexistent/file", 0o644); err == nil {
		t.Error("a missing host file was accepted")
	}
}

func TestSharedObjects(t *testing.T) {
	t.Parallel()
	// /bin/ls is dynamically linked on every Debian system.
	const prog = "/bin/ls"
	if _, err := os.Stat(prog); err != nil {
		t.Skipf("%s not present: %v", prog, err)
	}
	objs, err := SharedObjects(prog, []string{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu"})
	if err != nil {
		t.Fatal(err)
	}
	guest := map[string]bool{}
	for _, o := range objs {
		guest[o.Guest] = true
		if _, err := os.Stat(o.Host); err != nil {
			t.Errorf("%s: host file %s: %v", o.Guest, o.Host, err)
		}
	}
	for _, want := range []string{"/lib64/ld-linux-x86-64.so.2", GuestLibDir + "/libc.so.6"} {
		if !guest[want] {
			t.Errorf("SharedObjects(%s) lacks %s: %v", prog, want, objs)
		}
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := SharedObjects(self, nil); err != nil && !bytes.Contains([]byte(err.Error()), []byte("not found")) {
		t.Fatal(err)
	}
}
