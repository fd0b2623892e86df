package vuln

import (
	"errors"
	"io"
)

// A Source is a report's bytes, in memory (Bytes) or in a file (an
// *io.SectionReader), for a Streamer to read as it goes: a report of
// hundreds of megabytes uploaded to a server need not be held in memory.
type Source interface {
	io.ReaderAt
	Size() int64
}

// Bytes is a report in memory.
type Bytes []byte

// ReadAt implements io.ReaderAt.
func (b Bytes) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("vuln: negative offset")
	}
	if off >= int64(len(b)) {
		return 0, io.EOF
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Size is the report's length.
func (b Bytes) Size() int64 { return int64(len(b)) }

// headOf returns the start of src, enough for Formats to detect its
// format.
func headOf(src Source) ([]byte, error) {
	if b, ok := src.(Bytes); ok {
		return b[:min(len(b), headSize)], nil
	}
	buf := make([]byte, min(src.Size(), headSize))
	n, err := src.ReadAt(buf, 0)
	if err == io.EOF && n == len(buf) {
		err = nil
	}
	return buf[:n], err
}

// headSize is how much of a report Formats are given to detect its
// format: the importers look at the first 64 KiB, Dependabot's at its
// first alert.
const headSize = 1 << 20

// readAll returns the whole of src.
func readAll(src Source) ([]byte, error) {
	if b, ok := src.(Bytes); ok {
		return b, nil
	}
	return io.ReadAll(io.NewSectionReader(src, 0, src.Size()))
}
