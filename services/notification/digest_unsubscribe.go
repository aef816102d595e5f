package notification

import (
	"context"
	"errors"
	"log/slog"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
	"github.com/kinbridge/kinbridge/services/notification/digest"
	"github.com/kinbridge/kinbridge/services/notification/store"
)

// UnsubscribeDigest turns off the digest of the user a mailed token
// belongs to. It needs no sign-in (pkg/auth opens it): the token is the
// credential, and it is answered whether or not this instance sends
// digests, so the links of mails sent before SMTP was unset keep working.
func (s *server) UnsubscribeDigest(ctx context.Context, req *notificationv1.UnsubscribeDigestRequest) (*notificationv1.UnsubscribeDigestResponse, error) {
	user, err := digest.Unsubscribe(ctx, s.store, req.GetToken())
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, status.Error(codes.NotFound, "unknown unsubscribe token")
	case err != nil:
		return nil, err
	}
	s.logger.InfoContext(ctx, "digest turned off by an unsubscribe link", slog.String("user", user))
	return &notificationv1.UnsubscribeDigestResponse{}, nil
}
