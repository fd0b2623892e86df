package notify_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/opsguard/opsguard/notify"
)

const (
	smtpUser     = "opsguard"
	smtpPassword = "hunter2-smtp-password"
)

// received is one message as the test SMTP server saw it.
type received struct {
	from          string
	to            []string
	data          []byte
	tlsBeforeMail bool
}

// smtpServer is a real SMTP server on loopback that keeps what it receives.
type smtpServer struct {
	addr     string
	certPool *x509.CertPool
	mu       sync.Mutex
	msgs     []received
}

func (s *smtpServer) received() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.msgs)
}

// startSMTP starts a server that offers STARTTLS (with a fresh self-signed
// certificate) and requires AUTH PLAIN when withTLS is set, and speaks plain
// SMTP without AUTH otherwise.
func startSMTP(t *testing.T, withTLS bool) *smtpServer {
	t.Helper()
	s := &smtpServer{}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{srv: s, conn: c, needAuth: withTLS}, nil
	}))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = false // AUTH only after STARTTLS
	srv.ErrorLog = log.New(io.Discard, "", 0)
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	if withTLS {
		cert, pool := selfSigned(t)
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
		s.certPool = pool
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s
}

// selfSigned makes a certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "opsguard test smtp"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

type session struct {
	srv      *smtpServer
	conn     *smtp.Conn
	needAuth bool
	authed   bool
	cur      received
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != smtpUser || pass != smtpPassword {
			// Echo the password, as a careless server might, so the test
			// can see that the channel redacts it.
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8},
				Message: "bad credentials " + user + ":" + pass}
		}
		s.authed = true
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.needAuth && !s.authed {
		return smtp.ErrAuthRequired
	}
	_, isTLS := s.conn.TLSConnectionState()
	s.cur = received{from: from, tlsBeforeMail: isTLS}
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.cur.to = append(s.cur.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.data = b
	s.srv.mu.Lock()
	s.srv.msgs = append(s.srv.msgs, s.cur)
	s.srv.mu.Unlock()
	return nil
}

func (s *session) Reset()        { s.cur = received{} }
func (s *session) Logout() error { return nil }

func emailConfig(s *smtpServer) notify.EmailConfig {
	return notify.EmailConfig{
		Addr:      s.addr,
		From:      "opsguard <opsguard@example.com>",
		To:        []string{"security@example.com", "Ops Team <ops@example.com>"},
		Username:  smtpUser,
		Password:  smtpPassword,
		TLSConfig: &tls.Config{RootCAs: s.certPool},
		Timeout:   10 * time.Second,
	}
}

func newEmail(t *testing.T, cfg notify.EmailConfig) *notify.Email {
	t.Helper()
	e, err := notify.NewEmail("security-mail", cfg)
	if err != nil {
		t.Fatalf("NewEmail: %v", err)
	}
	return e
}

// parsed is a received message decoded the way a mail reader would.
type parsed struct {
	header  mail.Header
	subject string
	body    string
}

func parse(t *testing.T, data []byte) parsed {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("received message does not parse: %v\n%s", err, data)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatalf("subject: %v", err)
	}
	if cte := msg.Header.Get("Content-Transfer-Encoding"); cte != "quoted-printable" {
		t.Fatalf("Content-Transfer-Encoding = %q, want quoted-printable", cte)
	}
	body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		t.Fatalf("body: %v", err)
	}
	return parsed{header: msg.Header, subject: subject, body: string(body)}
}

func TestEmailDeliversOverStartTLS(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		summary string
	}{
		{"ascii", "CVE-2024-1234 on api is 3 days past its SLA"},
		{"non-ascii", "Frist für CVE-2024-1234 überschritten — 3 Tage"},
		{"newline cannot inject headers", "breach\r\nBcc: attacker@example.net"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := startSMTP(t, true)
			m := testMessage()
			m.Summary = tc.summary
			if err := newEmail(t, emailConfig(s)).Send(t.Context(), m); err != nil {
				t.Fatalf("Send: %v", err)
			}
			got := s.received()
			if len(got) != 1 {
				t.Fatalf("server received %d messages, want 1", len(got))
			}
			r := got[0]
			if !r.tlsBeforeMail {
				t.Error("MAIL FROM was sent before the session was upgraded to TLS")
			}
			if r.from != "opsguard@example.com" {
				t.Errorf("envelope from = %q", r.from)
			}
			if want := []string{"security@example.com", "ops@example.com"}; !slices.Equal(r.to, want) {
				t.Errorf("envelope to = %q, want %q", r.to, want)
			}
			p := parse(t, r.data)
			if want := "[opsguard] " + tc.summary; p.subject != want {
				t.Errorf("subject = %q, want %q", p.subject, want)
			}
			if p.header.Get("Bcc") != "" {
				t.Errorf("summary injected a Bcc header: %q", p.header.Get("Bcc"))
			}
			if from := p.header.Get("From"); from != `"opsguard" <opsguard@example.com>` {
				t.Errorf("From header = %q", from)
			}
			if to := p.header.Get("To"); !strings.Contains(to, "<security@example.com>") || !strings.Contains(to, `"Ops Team" <ops@example.com>`) {
				t.Errorf("To header = %q", to)
			}
			for _, want := range []string{
				"Kind:    vuln.sla_breached\r\n",
				"Subject: finding/123\r\n",
				"Time:    2025-03-04T05:06:07Z\r\n",
				"Summary: " + tc.summary,
				"{\r\n  \"cve\": \"CVE-2024-1234\",\r\n  \"days_over\": 3\r\n}",
			} {
				if !strings.Contains(p.body, want) {
					t.Errorf("body lacks %q:\n%s", want, p.body)
				}
			}
		})
	}
}

func TestEmailRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		withTLS bool
		edit    func(*notify.EmailConfig)
		wantErr error  // matched with errors.Is when set
		wantIn  string // expected in the error text
	}{
		{
			name:    "server without STARTTLS",
			withTLS: false,
			edit:    func(c *notify.EmailConfig) {},
			wantErr: notify.ErrNoStartTLS,
			wantIn:  "STARTTLS",
		},
		{
			name:    "untrusted certificate",
			withTLS: true,
			edit:    func(c *notify.EmailConfig) { c.TLSConfig = nil },
			wantIn:  "certificate",
		},
		{
			name:    "certificate for another name",
			withTLS: true,
			edit:    func(c *notify.EmailConfig) { c.TLSConfig.ServerName = "mail.example.com" },
			wantIn:  "certificate",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := startSMTP(t, tc.withTLS)
			cfg := emailConfig(s)
			tc.edit(&cfg)
			err := newEmail(t, cfg).Send(t.Context(), testMessage())
			if err == nil {
				t.Fatal("Send succeeded")
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("error = %v, want %v", err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantIn) || !strings.Contains(err.Error(), "security-mail") {
				t.Errorf("error %q does not name the channel and %q", err, tc.wantIn)
			}
			if strings.Contains(err.Error(), smtpPassword) {
				t.Errorf("error leaks the password: %v", err)
			}
			if n := len(s.received()); n != 0 {
				t.Errorf("server received %d messages, want none", n)
			}
		})
	}
}

func TestEmailPlaintextWhenAllowed(t *testing.T) {
	t.Parallel()
	s := startSMTP(t, false)
	cfg := emailConfig(s)
	cfg.Username, cfg.Password = "", ""
	cfg.InsecureAllowPlaintext = true
	if err := newEmail(t, cfg).Send(t.Context(), testMessage()); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := s.received()
	if len(got) != 1 || got[0].tlsBeforeMail {
		t.Fatalf("received %+v, want one message over plain SMTP", got)
	}
}

func TestEmailWrongPasswordIsRecordedWithoutIt(t *testing.T) {
	t.Parallel()
	s := startSMTP(t, true)
	cfg := emailConfig(s)
	cfg.Password = "wrong-password-do-not-log"
	h := newHarness(t, []notify.Channel{newEmail(t, cfg)}, map[string][]string{"backup.restore_failed": {"security-mail"}}, notify.Options{})
	m := testMessage()
	m.Kind = "backup.restore_failed"
	err := h.notify(t.Context(), m)
	if err == nil {
		t.Fatal("notify succeeded with a wrong password")
	}
	attempts := h.q.forChannel("security-mail")
	// A refused login is permanent: retrying could lock the account.
	if len(attempts) != 1 {
		t.Fatalf("recorded %d attempts, want 1: %+v", len(attempts), attempts)
	}
	a := attempts[0]
	if a.OK || !strings.Contains(a.Error, "535") || a.Kind != m.Kind {
		t.Errorf("attempt = %+v, want a failed backup.restore_failed attempt naming the 535 reply", a)
	}
	for _, text := range []string{a.Error, err.Error()} {
		if strings.Contains(text, cfg.Password) {
			t.Errorf("error leaks the password: %s", text)
		}
	}
	if !strings.Contains(a.Error, "[redacted]") {
		t.Errorf("attempt error %q: the server echoed the password, want it redacted", a.Error)
	}
	if n := len(s.received()); n != 0 {
		t.Errorf("server received %d messages, want none", n)
	}
}

func TestEmailHonorsContext(t *testing.T) {
	t.Parallel()
	// A listener that accepts and never greets: Send must not hang.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	cfg := notify.EmailConfig{Addr: ln.Addr().String(), From: "a@example.com", To: []string{"b@example.com"}}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := newEmail(t, cfg).Send(ctx, testMessage()); err == nil {
		t.Fatal("Send succeeded against a silent server")
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("Send took %v, want it cut at the 100ms deadline", el)
	}
}

func TestNewEmailValidates(t *testing.T) {
	t.Parallel()
	valid := notify.EmailConfig{Addr: "mail.example.com:587", From: "a@example.com", To: []string{"b@example.com"}}
	tests := []struct {
		name  string
		edit  func(*notify.EmailConfig)
		field string // expected in the error; "" means valid
	}{
		{"valid", func(*notify.EmailConfig) {}, ""},
		{"no port", func(c *notify.EmailConfig) { c.Addr = "mail.example.com" }, "Addr"},
		{"no host", func(c *notify.EmailConfig) { c.Addr = ":587" }, "Addr"},
		{"no from", func(c *notify.EmailConfig) { c.From = "" }, "From"},
		{"from with newline", func(c *notify.EmailConfig) { c.From = "a@example.com\r\nBcc: x@example.net" }, "From"},
		{"no to", func(c *notify.EmailConfig) { c.To = nil }, "To"},
		{"bad to", func(c *notify.EmailConfig) { c.To = []string{"b@example.com", "not an address"} }, "To[1]"},
		{"password without user", func(c *notify.EmailConfig) { c.Password = "pw-secret" }, "Username"},
		{"negative timeout", func(c *notify.EmailConfig) { c.Timeout = -time.Second }, "Timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := valid
			tc.edit(&cfg)
			e, err := notify.NewEmail("mail", cfg)
			if tc.field == "" {
				if err != nil || e.Name() != "mail" {
					t.Fatalf("NewEmail = %v, %v", e, err)
				}
				return
			}
			if !errors.Is(err, notify.ErrInvalidConfig) {
				t.Fatalf("NewEmail error = %v, want ErrInvalidConfig", err)
			}
			if !strings.Contains(err.Error(), tc.field) || !strings.Contains(err.Error(), "email mail") {
				t.Errorf("error %q does not name the channel and field %s", err, tc.field)
			}
			if strings.Contains(err.Error(), "pw-secret") {
				t.Errorf("error leaks the password: %v", err)
			}
		})
	}
}

// A message's own recipients (an owner's digest) are added to the
// channel's, each once; one that does not parse is a permanent failure.
func TestEmailExtraRecipients(t *testing.T) {
	t.Parallel()
	s := startSMTP(t, true)
	m := testMessage()
	m.To = []string{"Olga Owner <olga@example.com>", "OPS@example.com"}
	if err := newEmail(t, emailConfig(s)).Send(t.Context(), m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := s.received()
	if len(got) != 1 {
		t.Fatalf("server received %d messages", len(got))
	}
	if want := []string{"security@example.com", "ops@example.com", "olga@example.com"}; !slices.Equal(got[0].to, want) {
		t.Errorf("envelope to = %q, want %q", got[0].to, want)
	}
	if to := parse(t, got[0].data).header.Get("To"); !strings.Contains(to, `"Olga Owner" <olga@example.com>`) {
		t.Errorf("To header = %q", to)
	}
	m.To = []string{"not an address"}
	err := newEmail(t, emailConfig(s)).Send(t.Context(), m)
	if !errors.Is(err, notify.ErrPermanent) || len(s.received()) != 1 {
		t.Errorf("a bad recipient: %v, %d messages", err, len(s.received()))
	}
}
