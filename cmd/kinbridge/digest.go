package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"

	"github.com/kinbridge/kinbridge/services/notification"
	"github.com/kinbridge/kinbridge/services/notification/digest"
)

// digest configures the daily digest from the --smtp-* flags: off, and
// said so in the log (by the service), without --smtp-addr.
func (c *settings) digest(ctx context.Context, logger *slog.Logger) (notification.DigestConfig, error) {
	if c.SMTPAddr == "" {
		return notification.DigestConfig{}, nil
	}
	if c.PublicURL == "" {
		return notification.DigestConfig{}, errors.New("--smtp-addr needs --public-url: the digest's links and unsubscribe URL point there")
	}
	if c.DigestInterval <= 0 {
		return notification.DigestConfig{}, fmt.Errorf("--digest-interval must be more than 0, not %v", c.DigestInterval)
	}
	from := c.SMTPFrom
	if from == "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || u.Hostname() == "" {
			return notification.DigestConfig{}, fmt.Errorf("--public-url %q is not a URL", c.PublicURL)
		}
		from = "Kinbridge <no-reply@" + u.Hostname() + ">"
	}
	mailer, err := digest.NewSMTP(digest.SMTPConfig{Addr: c.SMTPAddr, From: from, Username: c.SMTPUsername, Password: c.SMTPPassword})
	if err != nil {
		return notification.DigestConfig{}, fmt.Errorf("--smtp-addr/--smtp-from: %w", err)
	}
	logger.InfoContext(ctx, "daily digest on", slog.String("smtp", c.SMTPAddr), slog.String("from", from), slog.Duration("interval", c.DigestInterval))
	return notification.DigestConfig{Mailer: mailer, PublicURL: c.PublicURL, Tick: c.DigestInterval}, nil
}
