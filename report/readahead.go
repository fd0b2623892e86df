package report

import (
	"io"
	"sync"
)

// readAhead reads its source on a goroutine of its own, a few chunks
// ahead of its reader: inflating and hashing a member then runs beside
// the parsing of what was read before.
type readAhead struct {
	chunks chan []byte
	free   chan []byte
	stop   chan struct{}
	once   sync.Once
	cur    []byte // the unread part of buf
	buf    []byte // the chunk being read, whole
	done   chan struct{}
	srcErr error
}

const (
	aheadChunk = 256 << 10
	aheadDepth = 4
)

func newReadAhead(r io.Reader) *readAhead {
	a := &readAhead{chunks: make(chan []byte, aheadDepth), free: make(chan []byte, aheadDepth+2), stop: make(chan struct{}), done: make(chan struct{})}
	for range aheadDepth + 2 {
		a.free <- make([]byte, aheadChunk)
	}
	go a.fill(r)
	return a
}

func (a *readAhead) fill(r io.Reader) {
	defer close(a.chunks)
	defer close(a.done)
	for {
		var buf []byte
		select {
		case buf = <-a.free:
		case <-a.stop:
			return
		}
		n, err := io.ReadFull(r, buf[:cap(buf)])
		if n > 0 {
			select {
			case a.chunks <- buf[:n]:
			case <-a.stop:
				return
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return
		}
		if err != nil {
			a.srcErr = err
			return
		}
	}
}

func (a *readAhead) Read(p []byte) (int, error) {
	for len(a.cur) == 0 {
		if a.buf != nil {
			a.free <- a.buf[:cap(a.buf)]
			a.buf = nil
		}
		c, ok := <-a.chunks
		if !ok {
			<-a.done
			if a.srcErr != nil {
				return 0, a.srcErr
			}
			return 0, io.EOF
		}
		a.cur, a.buf = c, c
	}
	n := copy(p, a.cur)
	a.cur = a.cur[n:]
	return n, nil
}

// Close stops the reading goroutine and waits for it; the source is
// left where it stopped.
func (a *readAhead) Close() error {
	a.once.Do(func() { close(a.stop) })
	for range a.chunks {
	}
	<-a.done
	return nil
}
