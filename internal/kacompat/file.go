package kacompat

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
)

// WriteFile writes a dump file so that no reader ever sees part of one: the
// dump goes to a new temporary file in the same directory (created
// exclusively, so a link planted in a shared /tmp is never followed) and is
// renamed over path once complete. A reader sees the previous dump or the
// new one, whole. The file's mode is perm (keepalived's dumps are 0600: the
// state dump holds VRRP passwords).
func WriteFile(path string, perm os.FileMode, write func(io.Writer) error) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	w := bufio.NewWriter(f)
	err = write(w)
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	if cerr := f.Chmod(perm); err == nil {
		err = cerr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
