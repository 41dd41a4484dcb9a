package vm

import (
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/cavaliergopher/cpio"
)

// Image is an initramfs under construction: a set of guest paths, each a
// directory, a regular file (from the host or from bytes) or a symlink.
// Parent directories are created implicitly.
type Image struct {
	entries map[string]entry
}

type entry struct {
	mode   cpio.FileMode
	host   string // regular file content from this host file
	data   []byte // or from these bytes
	target string // symlink target
}

// NewImage returns an empty image.
func NewImage() *Image { return &Image{entries: map[string]entry{}} }

func clean(p string) (string, error) {
	if !strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("vm: image path %q is not absolute", p)
	}
	p = path.Clean(p)
	if p == "/" {
		return "", fmt.Errorf("vm: image path %q names the root", p)
	}
	return p, nil
}

func (im *Image) put(p string, e entry) error {
	p, err := clean(p)
	if err != nil {
		return err
	}
	if old, ok := im.entries[p]; ok && old.mode.IsDir() && e.mode.IsDir() {
		return nil
	}
	for d := path.Dir(p); d != "/"; d = path.Dir(d) {
		if old, ok := im.entries[d]; ok {
			if !old.mode.IsDir() {
				return fmt.Errorf("vm: image: %s is not a directory (needed for %s)", d, p)
			}
			continue
		}
		im.entries[d] = entry{mode: cpio.TypeDir | 0o755}
	}
	im.entries[p] = e
	return nil
}

// Dir adds an empty directory.
func (im *Image) Dir(p string) error { return im.put(p, entry{mode: cpio.TypeDir | 0o755}) }

// File adds the host file host at guest path p with permission bits perm.
func (im *Image) File(p, host string, perm os.FileMode) error {
	st, err := os.Stat(host)
	if err != nil {
		return fmt.Errorf("vm: image: %w", err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("vm: image: %s is not a regular file", host)
	}
	return im.put(p, entry{mode: cpio.TypeReg | cpio.FileMode(perm.Perm()), host: host})
}

// Bytes adds a regular file with the given content.
func (im *Image) Bytes(p string, data []byte, perm os.FileMode) error {
	return im.put(p, entry{mode: cpio.TypeReg | cpio.FileMode(perm.Perm()), data: data})
}

// Symlink adds a symbolic link at p pointing to target.
func (im *Image) Symlink(p, target string) error {
	return im.put(p, entry{mode: cpio.TypeSymlink | 0o777, target: target})
}

// Program adds the ELF program host at p with its dynamic loader and the
// shared libraries it needs, found in libDirs (see SharedObjects).
func (im *Image) Program(p, host string, libDirs []string) error {
	objs, err := SharedObjects(host, libDirs)
	if err != nil {
		return err
	}
	if err := im.File(p, host, 0o755); err != nil {
		return err
	}
	for _, o := range objs {
		if _, ok := im.entries[o.Guest]; ok {
			continue
		}
		if err := im.File(o.Guest, o.Host, 0o755); err != nil {
			return err
		}
	}
	return nil
}

// Paths returns the guest paths in the image, sorted.
func (im *Image) Paths() []string {
	ps := make([]string, 0, len(im.entries))
	for p := range im.entries {
		ps = append(ps, p)
	}
	sort.Strings(ps)
	return ps
}

// WriteTo writes the image as a cpio "newc" archive, the format the kernel
// unpacks into its initial rootfs. Parents come before their children.
func (im *Image) WriteTo(w io.Writer) (int64, error) {
	cw := &countWriter{w: w}
	cp := cpio.NewWriter(cw)
	for _, p := range im.Paths() {
		e := im.entries[p]
		h := &cpio.Header{Name: strings.TrimPrefix(p, "/"), Mode: e.mode, Links: 1}
		var body io.Reader
		switch {
		case e.mode.IsDir():
			h.Links = 2
		case e.mode&cpio.ModeType == cpio.TypeSymlink:
			h.Linkname = e.target
			h.Size = int64(len(e.target))
		case e.host != "":
			f, err := os.Open(e.host)
			if err != nil {
				return cw.n, fmt.Errorf("vm: image: %w", err)
			}
			st, err := f.Stat()
			if err != nil {
				f.Close()
				return cw.n, fmt.Errorf("vm: image: %w", err)
			}
			h.Size = st.Size()
			body = f
		default:
			h.Size = int64(len(e.data))
			body = strings.NewReader(string(e.data))
		}
		if err := cp.WriteHeader(h); err != nil {
			closeIf(body)
			return cw.n, fmt.Errorf("vm: image: %s: %w", p, err)
		}
		if h.Linkname != "" {
			if _, err := io.WriteString(cp, h.Linkname); err != nil {
				return cw.n, fmt.Errorf("vm: image: %s: %w", p, err)
			}
		}
		if body != nil {
			_, err := io.Copy(cp, body)
			closeIf(body)
			if err != nil {
				return cw.n, fmt.Errorf("vm: image: %s: %w", p, err)
			}
		}
	}
	if err := cp.Close(); err != nil {
		return cw.n, fmt.Errorf("vm: image: %w", err)
	}
	return cw.n, nil
}

func closeIf(r io.Reader) {
	if c, ok := r.(io.Closer); ok {
		c.Close()
	}
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
