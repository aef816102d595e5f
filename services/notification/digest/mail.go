package digest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Message is one mail to send.
type Message struct {
	// To is the recipient's address.
	To string
	// Subject is the subject line (encoded as needed).
	Subject string
	// Text is the plain-text part; HTML, if set, is sent as its
	// alternative.
	Text string
	HTML string
	// MessageID is the Message-ID without angle brackets; empty makes a
	// random one. A stable one lets receivers drop a second copy.
	MessageID string
	// Date is the Date header; zero: the time of sending.
	Date time.Time
	// Headers are more header fields (List-Unsubscribe and the like),
	// ASCII values.
	Headers map[string]string
}

// Mailer sends mail. Send returns nil once the server accepted the
// message for delivery.
type Mailer interface {
	Send(ctx context.Context, msg *Message) error
}

// SMTPConfig is where and as whom an [SMTP] sends.
type SMTPConfig struct {
	// Addr is the submission server's host:port. Port 465 speaks TLS
	// from the start; any other upgrades with STARTTLS, which is required
	// unless the host is a loopback address (a local relay or a test
	// server).
	Addr string
	// From is the sender, an address with an optional display name
	// ("Kinbridge <digest@example.org>").
	From string
	// Username and Password, when Username is set, authenticate
	// (SCRAM, CRAM-MD5, PLAIN or LOGIN, whatever the server offers over
	// TLS; PLAIN without TLS to a loopback host only).
	Username string
	Password string
	// Timeout bounds connecting and each exchange; 0 takes 30 seconds.
	Timeout time.Duration
}

// SMTP is a [Mailer] on an SMTP submission server (github.com/wneessen/go-mail).
type SMTP struct {
	from   *mail.Address
	client *gomail.Client
}

// NewSMTP checks cfg and returns a mailer; it does not connect yet.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	host, portText, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("smtp address %q: %w", cfg.Addr, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port <= 0 || port > 65535 {
		return nil, fmt.Errorf("smtp address %q: bad port", cfg.Addr)
	}
	if cfg.From == "" {
		return nil, errors.New("smtp: a sender (From) is required")
	}
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("smtp sender %q: %w", cfg.From, err)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	loopback := isLoopback(host)
	opts := []gomail.Option{gomail.WithPort(port), gomail.WithTimeout(cfg.Timeout)}
	switch {
	case port == 465:
		opts = append(opts, gomail.WithSSLPort(false))
	case loopback:
		opts = append(opts, gomail.WithTLSPortPolicy(gomail.TLSOpportunistic))
	default:
		opts = append(opts, gomail.WithTLSPortPolicy(gomail.TLSMandatory))
	}
	if cfg.Username != "" {
		auth := gomail.SMTPAuthAutoDiscover
		if loopback && port != 465 {
			auth = gomail.SMTPAuthPlainNoEnc
		}
		opts = append(opts, gomail.WithSMTPAuth(auth), gomail.WithUsername(cfg.Username), gomail.WithPassword(cfg.Password))
	}
	client, err := gomail.NewClient(host, opts...)
	if err != nil {
		return nil, fmt.Errorf("smtp: %w", err)
	}
	return &SMTP{from: from, client: client}, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Send delivers msg to the server over a connection of its own.
func (s *SMTP) Send(ctx context.Context, msg *Message) error {
	m := gomail.NewMsg()
	m.FromMailAddress(s.from)
	if err := m.To(msg.To); err != nil {
		return fmt.Errorf("recipient %q: %w", msg.To, err)
	}
	m.Subject(msg.Subject)
	if msg.MessageID != "" {
		m.SetMessageIDWithValue(msg.MessageID)
	} else {
		m.SetMessageID()
	}
	if msg.Date.IsZero() {
		m.SetDate()
	} else {
		m.SetDateWithValue(msg.Date)
	}
	for name, value := range msg.Headers {
		m.SetGenHeader(gomail.Header(name), value)
	}
	m.SetBodyString(gomail.TypeTextPlain, msg.Text)
	if msg.HTML != "" {
		m.AddAlternativeString(gomail.TypeTextHTML, msg.HTML)
	}
	if err := s.client.DialAndSendWithContext(ctx, m); err != nil {
		return fmt.Errorf("smtp: %w", err)
	}
	return nil
}
