package collect

import (
	"fmt"
	"os"
	"syscall"
)

// inode returns a file's inode number and size, to tell a rotated log.
func inode(f *os.File) (uint64, int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, 0, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, fmt.Errorf("%s: no inode", f.Name())
	}
	return st.Ino, fi.Size(), nil
}
