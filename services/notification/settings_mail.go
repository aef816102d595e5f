package notification

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/grpc/codes"

	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
	"github.com/kinbridge/kinbridge/pkg/errinfo"
	"github.com/kinbridge/kinbridge/services/notification/digest"
)

// Confirmation links: a token of 32 random bytes (base64url), mailed as
// `{public-url}/settings/confirm#{token}` (a fragment, so it never reaches
// a server's logs); the store keeps its SHA-256 only.
const (
	emailLinkTTL = 24 * time.Hour
	// emailLinkKeep is how long a link's row stays after it expired, so
	// that using it still answers EMAIL_LINK_EXPIRED rather than NOT_FOUND.
	emailLinkKeep = 30 * 24 * time.Hour
)

// errMailNotConfigured is what noMailer answers.
var errMailNotConfigured = errors.New("e-mail is not configured on this server")

// noMailer is the Mailer of a server without SMTP: it logs what it was
// asked and refuses. UpdateUserSettings checks for it before storing an
// address, so that no address waits for a link that cannot come.
type noMailer struct{ logger *slog.Logger }

func (m noMailer) Send(ctx context.Context, msg *digest.Message) error {
	m.logger.WarnContext(ctx, "not sending mail: e-mail is not configured on this server (see --smtp-addr)", slog.String("subject", msg.Subject))
	return errMailNotConfigured
}

// mailConfigured reports whether the server can send mail.
func (s *server) mailConfigured() bool {
	_, none := s.mailer.(noMailer)
	return !none && s.publicURL != ""
}

// notConfigured is the refusal of an e-mail address by a server that
// sends no mail.
func notConfigured() error {
	return errinfo.Notification(codes.FailedPrecondition, notificationv1.ErrorReason_ERROR_REASON_EMAIL_NOT_CONFIGURED, errMailNotConfigured.Error(), nil)
}

// newLinkToken returns a fresh confirmation token.
func newLinkToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// confirmationMail is the mail that carries a confirmation link.
func (s *server) confirmationMail(to, token string) *digest.Message {
	link := s.publicURL + "/settings/confirm#" + token
	return &digest.Message{
		To:      to,
		Subject: "Confirm your e-mail address for Kinbridge",
		Text: fmt.Sprintf("Hello,\n\nsomeone (we hope you) asked Kinbridge to send news about the children you follow to this address.\n"+
			"To confirm it, open this link within 24 hours:\n\n%s\n\n"+
			"The link works once. If you did not ask for this, ignore this mail: nothing will be sent to you.\n", link),
	}
}
