package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"slices"
	"strings"
	"time"
)

// ErrNoStartTLS is returned (wrapping ErrPermanent) when a server does not
// offer STARTTLS and the channel does not allow plaintext: sending anyway
// would expose the password and the message to the network.
var ErrNoStartTLS = fmt.Errorf("server does not offer STARTTLS: %w", ErrPermanent)

// EmailConfig configures an Email channel.
type EmailConfig struct {
	Addr     string   // SMTP server, host:port; required
	From     string   // RFC 5322 address, e.g. "opsguard <ops@example.com>"; required
	To       []string // at least one address; required
	Username string   // AUTH PLAIN user; no AUTH when empty
	Password string
	// TLSConfig is used for STARTTLS (RootCAs, ServerName). Default: system
	// roots, ServerName taken from Addr.
	TLSConfig *tls.Config
	// InsecureAllowPlaintext sends without TLS when the server does not offer
	// STARTTLS. Off by default: TLS is required.
	InsecureAllowPlaintext bool
	Timeout                time.Duration // whole SMTP conversation; default 10s
	LocalName              string        // EHLO name; default "localhost"
}

// Email sends messages as plain-text mail over SMTP with STARTTLS.
type Email struct {
	name string
	cfg  EmailConfig
	host string
	from *mail.Address
	to   []*mail.Address
}

// NewEmail checks cfg and returns the channel called name.
func NewEmail(name string, cfg EmailConfig) (*Email, error) {
	if name == "" {
		return nil, fmt.Errorf("email: name is required: %w", ErrInvalidConfig)
	}
	invalid := func(field, why string) error {
		return fmt.Errorf("email %s: %s %s: %w", name, field, why, ErrInvalidConfig)
	}
	host, _, err := net.SplitHostPort(cfg.Addr)
	if err != nil || host == "" {
		return nil, invalid("Addr", "must be host:port")
	}
	e := &Email{name: name, cfg: cfg, host: host}
	if e.from, err = mail.ParseAddress(cfg.From); err != nil {
		return nil, invalid("From", fmt.Sprintf("is not an address: %v", err))
	}
	if len(cfg.To) == 0 {
		return nil, invalid("To", "is required")
	}
	for i, s := range cfg.To {
		a, err := mail.ParseAddress(s)
		if err != nil {
			return nil, invalid(fmt.Sprintf("To[%d]", i), fmt.Sprintf("is not an address: %v", err))
		}
		e.to = append(e.to, a)
	}
	if cfg.Password != "" && cfg.Username == "" {
		return nil, invalid("Username", "is required with a Password")
	}
	if cfg.Timeout < 0 {
		return nil, invalid("Timeout", "must not be negative")
	}
	if e.cfg.Timeout == 0 {
		e.cfg.Timeout = defaultTimeout
	}
	if e.cfg.LocalName == "" {
		e.cfg.LocalName = "localhost"
	}
	return e, nil
}

// Name returns the channel name.
func (e *Email) Name() string { return e.name }

// Send delivers m once. SMTP 5xx replies and a missing STARTTLS wrap
// ErrPermanent.
func (e *Email) Send(ctx context.Context, m Message) error {
	m = complete(m, time.Now, NewID)
	if err := e.send(ctx, m); err != nil {
		if perr, ok := errors.AsType[*textproto.Error](err); ok && perr.Code >= 500 {
			err = fmt.Errorf("%w (%w)", err, ErrPermanent)
		}
		return redactErr(fmt.Errorf("email %s: %w", e.name, err), e.cfg.Password)
	}
	return nil
}

func (e *Email) send(ctx context.Context, m Message) error {
	// Compose first: a message that cannot be rendered needs no connection.
	rcpts, err := e.recipients(m)
	if err != nil {
		return err
	}
	msg, err := e.compose(m, rcpts)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, e.cfg.Timeout)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", e.cfg.Addr)
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	// net/smtp knows no context: a deadline on the connection bounds the
	// conversation, and cancelling ctx expires it at once.
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	c, err := smtp.NewClient(conn, e.host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("greeting: %w", err)
	}
	defer c.Close()
	if err := e.secure(c); err != nil {
		return err
	}
	if err := e.transfer(c, rcpts, msg); err != nil {
		return err
	}
	return c.Quit()
}

// secure upgrades the connection to TLS and logs in.
func (e *Email) secure(c *smtp.Client) error {
	if err := c.Hello(e.cfg.LocalName); err != nil {
		return fmt.Errorf("ehlo: %w", err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(e.tlsConfig()); err != nil {
			return fmt.Errorf("starttls: %w", err)
		}
	} else if !e.cfg.InsecureAllowPlaintext {
		return ErrNoStartTLS
	}
	if e.cfg.Username == "" {
		return nil
	}
	// PlainAuth itself refuses to send the password in clear to a remote host.
	auth := smtp.PlainAuth("", e.cfg.Username, e.cfg.Password, e.host)
	if err := c.Auth(auth); err != nil {
		return fmt.Errorf("auth as %s: %w", e.cfg.Username, err)
	}
	return nil
}

func (e *Email) tlsConfig() *tls.Config {
	cfg := &tls.Config{}
	if e.cfg.TLSConfig != nil {
		cfg = e.cfg.TLSConfig.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = e.host
	}
	return cfg
}

// recipients are the channel's own addresses and the message's, each
// once. A message's address that does not parse is a permanent failure: a
// retry would not fix it.
func (e *Email) recipients(m Message) ([]*mail.Address, error) {
	out := slices.Clone(e.to)
	for _, s := range m.To {
		a, err := mail.ParseAddress(s)
		if err != nil {
			return nil, fmt.Errorf("recipient %q: %w (%w)", s, err, ErrPermanent)
		}
		if !slices.ContainsFunc(out, func(b *mail.Address) bool { return strings.EqualFold(a.Address, b.Address) }) {
			out = append(out, a)
		}
	}
	return out, nil
}

func (e *Email) transfer(c *smtp.Client, rcpts []*mail.Address, msg []byte) error {
	if err := c.Mail(e.from.Address); err != nil {
		return fmt.Errorf("mail from: %w", err)
	}
	for _, to := range rcpts {
		if err := c.Rcpt(to.Address); err != nil {
			return fmt.Errorf("rcpt to %s: %w", to.Address, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		w.Close()
		return fmt.Errorf("data: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	return nil
}

// compose renders m as a MIME message. The body is quoted-printable so any
// text in the data survives servers without 8BITMIME; the subject is
// encoded, which also keeps a newline in a summary from injecting headers.
func (e *Email) compose(m Message, rcpts []*mail.Address) ([]byte, error) {
	data, err := json.MarshalIndent(toPayload(m).Data, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode data of message %s: %w", m.ID, err)
	}
	to := make([]string, len(rcpts))
	for i, a := range rcpts {
		to[i] = a.String()
	}
	var b bytes.Buffer
	header := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	header("From", e.from.String())
	header("To", strings.Join(to, ", "))
	header("Subject", mime.QEncoding.Encode("utf-8", "[opsguard] "+m.Summary))
	header("Date", m.Time.UTC().Format(time.RFC1123Z))
	header("Message-ID", fmt.Sprintf("<%s@opsguard>", m.ID))
	header("X-Opsguard-Event", mime.QEncoding.Encode("utf-8", m.Kind))
	header("MIME-Version", "1.0")
	header("Content-Type", `text/plain; charset="utf-8"`)
	header("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")

	qp := quotedprintable.NewWriter(&b)
	fmt.Fprintf(qp, "Kind:    %s\r\nSubject: %s\r\nTime:    %s\r\nSummary: %s\r\n\r\nData:\r\n%s\r\n",
		m.Kind, m.Subject, m.Time.UTC().Format(time.RFC3339), m.Summary,
		strings.ReplaceAll(string(data), "\n", "\r\n"))
	if err := qp.Close(); err != nil {
		return nil, fmt.Errorf("encode body of message %s: %w", m.ID, err)
	}
	return b.Bytes(), nil
}
