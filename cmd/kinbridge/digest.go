package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"

	"github.com/kinbridge/kinbridge/services/notification/digest"
)

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
