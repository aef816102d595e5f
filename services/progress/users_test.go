package progress

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
	"github.com/kinbridge/kinbridge/pkg/auth"
	"github.com/kinbridge/kinbridge/services/progress/store"
)

// newTestServer is the service's server on a fresh SQLite database.
func newTestServer(t *testing.T) *server {
	t.Helper()
	svc, err := New(t.Context(), Config{DSN: "sqlite:" + filepath.Join(t.TempDir(), "progress.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	return svc.server
}

func as(ctx context.Context, user string, admin bool) context.Context {
	return auth.NewContext(ctx, auth.Principal{Subject: user, Admin: admin})
}

func TestGetUser(t *testing.T) {
	s := newTestServer(t)
	admin := as(t.Context(), "root", true)
	child := func(name string) string {
		c, err := s.CreateChild(admin, &progressv1.CreateChildRequest{Child: &progressv1.Child{DisplayName: name}})
		if err != nil {
			t.Fatal(err)
		}
		return c.GetName()
	}
	grant := func(child, user string, role progressv1.Role, relation string) {
		if _, err := s.CreateGuardianship(admin, &progressv1.CreateGuardianshipRequest{Parent: child,
			Guardianship: &progressv1.Guardianship{User: user, Role: role, Relation: relation}}); err != nil {
			t.Fatal(err)
		}
	}
	ada, bo, cy := child("Ada"), child("Bo"), child("Cy")
	grant(ada, "maria", progressv1.Role_ROLE_GUARDIAN, "mother")
	grant(bo, "maria", progressv1.Role_ROLE_CONTRIBUTOR, "")
	grant(cy, "maria", progressv1.Role_ROLE_GUARDIAN, "aunt")
	grant(cy, "root", progressv1.Role_ROLE_CONTRIBUTOR, "headteacher")
	if _, err := s.DeleteChild(admin, &progressv1.DeleteChildRequest{Name: cy}); err != nil {
		t.Fatal(err)
	}

	get := func(ctx context.Context, name string) (*progressv1.User, error) {
		return s.GetUser(ctx, &progressv1.GetUserRequest{Name: name})
	}
	maria := &progressv1.User{Name: "users/maria", Children: []*progressv1.FollowedChild{
		{Child: ada, DisplayName: "Ada", Role: progressv1.Role_ROLE_GUARDIAN, Relation: "mother"},
		{Child: bo, DisplayName: "Bo", Role: progressv1.Role_ROLE_CONTRIBUTOR},
	}}
	for _, name := range []string{"users/me", "users/maria"} {
		got, err := get(as(t.Context(), "maria", false), name)
		if err != nil || !proto.Equal(got, maria) {
			t.Errorf("%s as maria: %v, %v; want %v (the deleted child gone)", name, got, err, maria)
		}
	}
	// An administrator follows only the children they are a guardian of:
	// none left, since Cy was deleted.
	if got, err := get(admin, "users/me"); err != nil || !proto.Equal(got, &progressv1.User{Name: "users/root", Administrator: true}) {
		t.Errorf("administrator: %v, %v", got, err)
	}
	if got, err := get(as(t.Context(), "olga", false), "users/me"); err != nil || !proto.Equal(got, &progressv1.User{Name: "users/olga"}) {
		t.Errorf("a user with no children: %v, %v", got, err)
	}

	for _, tt := range []struct {
		what string
		ctx  context.Context
		name string
		want codes.Code
	}{
		{"no principal", t.Context(), "users/me", codes.Unauthenticated},
		{"another user", as(t.Context(), "olga", false), "users/maria", codes.NotFound},
		{"another user, asked by an administrator", admin, "users/maria", codes.NotFound},
		{"a malformed name", as(t.Context(), "maria", false), "users/", codes.InvalidArgument},
	} {
		if _, err := get(tt.ctx, tt.name); status.Code(err) != tt.want {
			t.Errorf("%s: %v, want %v", tt.what, err, tt.want)
		}
	}
}

// TestGetUserIsBounded: a user who follows more than maxFollowedChildren
// children gets the first ones, by creation, and children_truncated.
func TestGetUserIsBounded(t *testing.T) {
	s := newTestServer(t)
	ctx := t.Context()
	var first string
	for i := range maxFollowedChildren + 1 {
		id := fmt.Sprintf("c%04d", i)
		if _, err := s.store.CreateChild(ctx, store.Child{ID: id, DisplayName: id, TimeZone: "UTC"}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.store.CreateGuardianship(ctx, store.Guardianship{ChildID: id, User: "teacher", Role: store.RoleContributor}); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = "children/" + id
		}
	}
	got, err := s.GetUser(as(ctx, "teacher", false), &progressv1.GetUserRequest{Name: "users/me"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.GetChildren()) != maxFollowedChildren || !got.GetChildrenTruncated() || got.GetChildren()[0].GetChild() != first {
		t.Fatalf("%d children (first %s), truncated %v; want %d from %s, truncated",
			len(got.GetChildren()), got.GetChildren()[0].GetChild(), got.GetChildrenTruncated(), maxFollowedChildren, first)
	}
}
