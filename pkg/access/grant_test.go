package access

import (
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
	"github.com/kinbridge/kinbridge/pkg/auth"
	"github.com/kinbridge/kinbridge/pkg/testenv"
)

// setRequireApproval sets the child's require_approval as an administrator.
func (e *progressEnv) setRequireApproval(child string, on bool) {
	e.t.Helper()
	if _, err := e.admin.UpdateChild(e.t.Context(), &progressv1.UpdateChildRequest{
		Child:      &progressv1.Child{Name: child, RequireApproval: on},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"require_approval"}},
	}); err != nil {
		e.t.Fatal(err)
	}
}

// TestGrant: what a caller holds once allowed, from real progress:
// contributors and administrators see drafts, guardians do not, and every
// caller learns whether the child requires approval.
func TestGrant(t *testing.T) {
	e := startProgress(t)
	child := e.child()
	e.grant(child, "grace", progressv1.Role_ROLE_GUARDIAN)
	e.grant(child, "carl", progressv1.Role_ROLE_CONTRIBUTOR)
	e.setRequireApproval(child, true)
	c := New(e.peer(e.media()), 0)
	for _, tt := range []struct {
		who  auth.Principal
		want Grant
	}{
		{user("grace"), Grant{SeesDrafts: false, ApprovalRequired: true}},
		{user("carl"), Grant{SeesDrafts: true, ApprovalRequired: true}},
		{admin("root"), Grant{SeesDrafts: true, ApprovalRequired: true}},
	} {
		g, err := c.Grant(t.Context(), tt.who, child, view)
		if err != nil || g != tt.want {
			t.Errorf("Grant(%s) = %+v, %v; want %+v", tt.who.Subject, g, err, tt.want)
		}
	}
	if g, err := c.Grant(t.Context(), user("olga"), child, view); err == nil || g != (Grant{}) {
		t.Errorf("a stranger: %+v, %v", g, err)
	}
	wantCode(t, c.Check(t.Context(), user("grace"), child, contribute), codes.PermissionDenied)
	e.setRequireApproval(child, false)
	if g, err := c.Grant(t.Context(), user("carl"), child, contribute); err != nil || g != (Grant{SeesDrafts: true}) {
		t.Errorf("after turning approval off: %+v, %v", g, err)
	}
}

// TestProgressDropsSharedAnswersOnApprovalChange: the shared cache holds
// the grant too, and a change of require_approval drops it at once.
func TestProgressDropsSharedAnswersOnApprovalChange(t *testing.T) {
	url, prefix := testenv.Redis(t), testenv.RedisPrefix(t)
	e := startProgressWith(t, sharedCache(t, url, prefix, "deployment"))
	client := e.peer(e.media())
	media := New(client, time.Hour, WithShared(sharedCache(t, url, prefix, "deployment")))
	child := e.child()
	e.grant(child, "carl", progressv1.Role_ROLE_CONTRIBUTOR)
	for _, on := range []bool{false, true, false} {
		e.setRequireApproval(child, on)
		for range 2 { // the second from the cache
			if g, err := media.Grant(t.Context(), user("carl"), child, contribute); err != nil || g != (Grant{SeesDrafts: true, ApprovalRequired: on}) {
				t.Fatalf("require_approval %v: %+v, %v", on, g, err)
			}
		}
	}
	if n := client.calls(); n != 3 {
		t.Errorf("progress was asked %d times, want once per change", n)
	}
}
