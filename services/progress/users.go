package progress

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
	"github.com/kinbridge/kinbridge/pkg/names"
	"github.com/kinbridge/kinbridge/pkg/validate"
)

// maxFollowedChildren bounds the children GetUser lists (the contract's
// number): a teacher of several classes fits, and one answer never grows
// with the size of a school. ListChildren pages through the rest.
const maxFollowedChildren = 1000

// GetUser answers who the caller is and which children they follow.
func (s *server) GetUser(ctx context.Context, req *progressv1.GetUserRequest) (*progressv1.User, error) {
	u, err := validate.Name("name", req.GetName(), names.ParseUser)
	if err != nil {
		return nil, err
	}
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if u.ID != names.Me && u.ID != p.Subject {
		// As NotificationService does for another user's inbox.
		return nil, status.Errorf(codes.NotFound, "%s not found", u)
	}
	// One more than the bound tells whether the list was cut.
	followed, err := s.store.FollowedChildren(ctx, p.Subject, maxFollowedChildren+1)
	if err != nil {
		return nil, storeError(err, "children")
	}
	user := &progressv1.User{Name: names.User{ID: p.Subject}.String(), Administrator: p.Admin}
	if len(followed) > maxFollowedChildren {
		followed, user.ChildrenTruncated = followed[:maxFollowedChildren], true
	}
	for _, f := range followed {
		user.Children = append(user.Children, &progressv1.FollowedChild{
			Child:       names.Child{ID: f.ChildID}.String(),
			DisplayName: f.DisplayName,
			Role:        progressv1.Role(f.Role),
			Relation:    f.Relation,
		})
	}
	return user, nil
}
