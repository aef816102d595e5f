package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/kinbridge/kinbridge/pkg/config"

	"github.com/kinbridge/kinbridge/services/notification/digest"
)

// defineMail registers the settings of the mail the notification service
// sends (the daily digest, e-mail confirmation links).
func (c *settings) defineMail(s *config.Set) {
	s.String(&c.SMTPAddr, "smtp-addr", "", "SMTP submission server (host:port) the daily digest is mailed through; STARTTLS is "+
		"required unless the host is a loopback address, port 465 speaks TLS at once (empty: no digest; needs --public-url for its links)")
	s.String(&c.SMTPFrom, "smtp-from", "", "sender of the digest mails, as \"Name <address>\" or an address (default: Kinbridge <no-reply@HOST of --public-url>)")
	s.String(&c.SMTPUsername, "smtp-username", "", "user name at the SMTP server (empty: send without authenticating)")
	s.Secret(&c.SMTPPassword, "smtp-password", "", "password at the SMTP server")
	s.Duration(&c.DigestInterval, "digest-interval", time.Minute, "how often notification looks for daily digests that are due (each goes once a user's quiet hours, or 07:00 local, are over)")
}

// mailer is the SMTP sender of the --smtp-* flags, for the daily digest
// and the e-mail confirmation links; nil without --smtp-addr (the digest
// is off, and the service says so in the log).
func (c *settings) mailer(ctx context.Context, logger *slog.Logger) (digest.Mailer, error) {
	if c.SMTPAddr == "" {
		return nil, nil
	}
	if c.PublicURL == "" {
		return nil, errors.New("--smtp-addr needs --public-url: the digest's links and unsubscribe URL point there")
	}
	if c.DigestInterval <= 0 {
		return nil, fmt.Errorf("--digest-interval must be more than 0, not %v", c.DigestInterval)
	}
	from := c.SMTPFrom
	if from == "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || u.Hostname() == "" {
			return nil, fmt.Errorf("--public-url %q is not a URL", c.PublicURL)
		}
		from = "Kinbridge <no-reply@" + u.Hostname() + ">"
	}
	mailer, err := digest.NewSMTP(digest.SMTPConfig{Addr: c.SMTPAddr, From: from, Username: c.SMTPUsername, Password: c.SMTPPassword})
	if err != nil {
		return nil, fmt.Errorf("--smtp-addr/--smtp-from: %w", err)
	}
	logger.InfoContext(ctx, "mail on: daily digest and e-mail confirmation", slog.String("smtp", c.SMTPAddr), slog.String("from", from), slog.Duration("interval", c.DigestInterval))
	return mailer, nil
}
