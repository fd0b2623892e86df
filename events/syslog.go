package events

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/leodido/go-syslog/v4"
	"github.com/leodido/go-syslog/v4/rfc3164"
	"github.com/leodido/go-syslog/v4/rfc5424"
)

// MaxSyslogFrame bounds one syslog message (RFC 5425 asks receivers for
// at least 2048 octets; devices send up to 8 KiB).
const MaxSyslogFrame = 64 << 10

// SyslogStats count what the listener received since it started.
type SyslogStats struct {
	Connections atomic.Int64
	Lines       atomic.Int64
	Events      atomic.Int64
	// Malformed counts the frames that were not RFC 5424 or 3164.
	Malformed atomic.Int64
}

// SyslogServer receives RFC 5424 and RFC 3164 syslog over TCP, each frame
// octet-counted (RFC 6587 3.4.1) or ended by LF, and stores each
// connection's lines as batches (every BatchEvents lines or FlushEvery,
// and at its end) under the host ID of the sending address. A frame that
// is neither format is counted in its batch's malformed and in Stats.
type SyslogServer struct {
	Service     *Service
	Logger      *slog.Logger
	BatchEvents int
	FlushEvery  time.Duration
	Stats       SyslogStats
}

// Serve accepts connections on ln until ctx ends.
func (s *SyslogServer) Serve(ctx context.Context, ln net.Listener) error {
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	if s.BatchEvents <= 0 || s.BatchEvents > MaxBatchEvents {
		s.BatchEvents = 500
	}
	if s.FlushEvery <= 0 {
		s.FlushEvery = time.Second
	}
	go func() { <-ctx.Done(); ln.Close() }()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("syslog accept: %w", err)
		}
		s.Stats.Connections.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			s.conn(ctx, c)
		}()
	}
}

// conn reads one connection's frames into batches.
func (s *SyslogServer) conn(ctx context.Context, c net.Conn) {
	peer := c.RemoteAddr().String()
	if h, _, err := net.SplitHostPort(peer); err == nil {
		peer = h
	}
	frames := make(chan []byte, 64)
	var readErr error
	go func() {
		defer close(frames)
		r := bufio.NewReaderSize(c, 64<<10)
		for {
			f, err := ReadFrame(r)
			if err != nil {
				if !errors.Is(err, io.EOF) {
					readErr = err
				}
				return
			}
			select {
			case frames <- f:
			case <-ctx.Done():
				return
			}
		}
	}()
	p := NewLineParser()
	b := Batch{Version: 1, HostID: peer}
	flush := func() {
		if len(b.Events) == 0 && b.Malformed == 0 {
			return
		}
		if _, err := s.Service.Ingest(context.WithoutCancel(ctx), Sender{Actor: "syslog:" + peer, Source: SourceSyslog}, b); err != nil {
			s.Logger.Error("syslog batch not stored", "from", peer, "events", len(b.Events), "malformed", b.Malformed, "err", err)
		}
		b = Batch{Version: 1, HostID: peer}
	}
	tick := time.NewTicker(s.FlushEvery)
	defer tick.Stop()
	for {
		select {
		case f, ok := <-frames:
			if !ok {
				if readErr != nil {
					b.Malformed++
					s.Stats.Malformed.Add(1)
					s.Logger.Warn("syslog connection broken off", "from", peer, "err", readErr)
				}
				flush()
				return
			}
			s.Stats.Lines.Add(1)
			e, err := p.Parse(f, peer, s.Service.now())
			if err != nil {
				b.Malformed++
				s.Stats.Malformed.Add(1)
				s.Logger.Debug("syslog line not read", "from", peer, "err", err)
			} else {
				b.Events = append(b.Events, e)
				s.Stats.Events.Add(1)
			}
			if len(b.Events) >= s.BatchEvents {
				flush()
			}
		case <-tick.C:
			flush()
		}
	}
}

// ReadFrame reads one frame: octet-counted when it starts with a digit
// ("LEN SP MSG"), else up to LF (a CR before it dropped). A frame longer
// than MaxSyslogFrame is an error that ends the connection, since its end
// cannot be trusted.
func ReadFrame(r *bufio.Reader) ([]byte, error) {
	first, err := r.Peek(1)
	if err != nil {
		return nil, err
	}
	if first[0] >= '1' && first[0] <= '9' {
		n := 0
		for {
			c, err := r.ReadByte()
			if err != nil {
				return nil, unexpected(err)
			}
			if c == ' ' {
				break
			}
			if c < '0' || c > '9' || n > MaxSyslogFrame {
				return nil, fmt.Errorf("octet count: %q is not a length of at most %d", c, MaxSyslogFrame)
			}
			n = n*10 + int(c-'0')
		}
		if n > MaxSyslogFrame {
			return nil, fmt.Errorf("octet count %d: more than %d", n, MaxSyslogFrame)
		}
		f := make([]byte, n)
		if _, err := io.ReadFull(r, f); err != nil {
			return nil, unexpected(err)
		}
		return f, nil
	}
	var f []byte
	for {
		part, err := r.ReadSlice('\n')
		f = append(f, part...)
		if len(f) > MaxSyslogFrame+1 {
			return nil, fmt.Errorf("a line longer than %d bytes", MaxSyslogFrame)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil && (len(f) == 0 || !errors.Is(err, io.EOF)) {
			return nil, err
		}
		break
	}
	f = trimEOL(f)
	return f, nil
}

func trimEOL(f []byte) []byte {
	for len(f) > 0 && (f[len(f)-1] == '\n' || f[len(f)-1] == '\r') {
		f = f[:len(f)-1]
	}
	return f
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// LineParser parses syslog messages, RFC 5424 first, then RFC 3164. It
// is not safe for concurrent use.
type LineParser struct{ m5424, m3164 syslog.Machine }

// NewLineParser returns a parser; RFC 3164's missing year is the current one.
func NewLineParser() *LineParser {
	return &LineParser{
		m5424: rfc5424.NewMachine(),
		m3164: rfc3164.NewMachine(rfc3164.WithYear(rfc3164.CurrentYear{}), rfc3164.WithTimezone(time.UTC), rfc3164.WithRFC3339()),
	}
}

// Parse turns one frame from peer, received at now, into an event: the
// message's host name (else the peer), its time (else now), its program,
// classified when it is a known security event, else of kind Syslog.
func (p *LineParser) Parse(frame []byte, peer string, now time.Time) (Event, error) {
	// The parsers may answer neither a message nor an error (an empty
	// frame): each answer is checked, not asserted.
	var base *syslog.Base
	m, err := p.m5424.Parse(frame)
	if r, ok := m.(*rfc5424.SyslogMessage); ok && err == nil && r != nil {
		base = &r.Base
	} else {
		m2, err2 := p.m3164.Parse(frame)
		r2, ok := m2.(*rfc3164.SyslogMessage)
		if !ok || err2 != nil || r2 == nil {
			return Event{}, fmt.Errorf("neither RFC 5424 (%v) nor RFC 3164 (%v)", err, err2)
		}
		base = &r2.Base
	}
	e := Event{Host: peer, At: now, Address: peer}
	if base.Hostname != nil && hostPattern.MatchString(*base.Hostname) {
		e.Host = *base.Hostname
	}
	if base.Timestamp != nil && !base.Timestamp.After(now.Add(MaxFuture)) && base.Timestamp.Year() >= 1970 {
		e.At = base.Timestamp.UTC()
	}
	if base.Appname != nil {
		e.Program = *base.Appname
	}
	if base.Message != nil {
		e.Message = *base.Message
	}
	if c, ok := FromLine(e.Host, e); ok {
		if c.Address == "" {
			c.Address = peer
		}
		return c, nil
	}
	e.Kind = Syslog
	e.Program, e.Message = cut(e.Program, maxFieldBytes), cut(e.Message, maxTextBytes)
	if e.Message == "" && base.Priority != nil {
		e.Message = "(priority " + strconv.Itoa(int(*base.Priority)) + ", no message)"
	}
	return e, nil
}
