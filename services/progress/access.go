package progress

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kinbridge/kinbridge/pkg/auth"
	"github.com/kinbridge/kinbridge/pkg/names"
	"github.com/kinbridge/kinbridge/services/progress/store"
)

// Access policy, in one place:
//   - administrators may do everything;
//   - a guardian may read the child; a contributor may also record for it;
//   - a child the caller has no role on is reported as NOT_FOUND, exactly
//     like a child that does not exist, so ids never reveal whether a child
//     is there;
//   - a caller who may see the child but lacks the role gets PERMISSION_DENIED.

// caller returns the authenticated user. The auth interceptor guarantees
// one on every public method; its absence is a wiring bug.
func caller(ctx context.Context) (auth.Principal, error) {
	p, ok := auth.FromContext(ctx)
	if !ok {
		return auth.Principal{}, status.Error(codes.Unauthenticated, "missing bearer token")
	}
	return p, nil
}

// requireAdmin allows administrators only.
func requireAdmin(ctx context.Context, what string) (auth.Principal, error) {
	p, err := caller(ctx)
	if err != nil {
		return p, err
	}
	if !p.Admin {
		return p, status.Errorf(codes.PermissionDenied, "only administrators may %s", what)
	}
	return p, nil
}

// authorizeChild checks that the caller holds at least role need on the
// child (admins always do) and returns the caller.
func (s *server) authorizeChild(ctx context.Context, childID string, need store.Role) (auth.Principal, error) {
	p, err := caller(ctx)
	if err != nil {
		return p, err
	}
	role, exists, err := s.store.Role(ctx, childID, p.Subject)
	if err != nil {
		return p, storeError(err, "child")
	}
	if !exists || (!p.Admin && role == store.RoleNone) {
		return p, childNotFound(childID)
	}
	if !p.Admin && role < need {
		return p, status.Errorf(codes.PermissionDenied, "your role on children/%s does not allow this", childID)
	}
	return p, nil
}

// authorizeAdminOnChild is for administrative writes on an existing child:
// callers who cannot see the child learn nothing more than NOT_FOUND.
func (s *server) authorizeAdminOnChild(ctx context.Context, childID, what string) error {
	p, err := s.authorizeChild(ctx, childID, store.RoleGuardian)
	if err != nil {
		return err
	}
	if !p.Admin {
		return status.Errorf(codes.PermissionDenied, "only administrators may %s", what)
	}
	return nil
}

func childNotFound(id string) error {
	return status.Errorf(codes.NotFound, "%s not found", names.Child{ID: id})
}
