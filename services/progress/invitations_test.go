package progress

import (
	"context"
	"encoding/base64"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	notificationpeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/peer/v1"
	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
	"github.com/kinbridge/kinbridge/pkg/errinfo"
	"github.com/kinbridge/kinbridge/pkg/testenv"
)

// family is a child with an administrator (root), a guardian (maria), a
// contributor (tom) and a stranger (olga), on a service whose clock the
// test holds.
type family struct {
	t     *testing.T
	svc   *Service
	s     *server
	clock *testenv.Clock
	child string
}

func newFamily(t *testing.T, guardiansMayInvite bool) *family {
	t.Helper()
	clock := testenv.NewClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	svc, err := New(t.Context(), Config{DSN: "sqlite:" + filepath.Join(t.TempDir(), "progress.db"), Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	f := &family{t: t, svc: svc, s: svc.server, clock: clock}
	c, err := f.s.CreateChild(f.as("root"), &progressv1.CreateChildRequest{Child: &progressv1.Child{
		DisplayName: "Ada", GuardiansMayInvite: guardiansMayInvite}})
	if err != nil {
		t.Fatal(err)
	}
	f.child = c.GetName()
	f.grant("maria", progressv1.Role_ROLE_GUARDIAN)
	f.grant("tom", progressv1.Role_ROLE_CONTRIBUTOR)
	return f
}

// as is a request context of user; root is the administrator.
func (f *family) as(user string) context.Context {
	return as(f.t.Context(), user, user == "root")
}

func (f *family) grant(user string, role progressv1.Role) {
	f.t.Helper()
	if _, err := f.s.CreateGuardianship(f.as("root"), &progressv1.CreateGuardianshipRequest{Parent: f.child,
		Guardianship: &progressv1.Guardianship{User: user, Role: role}}); err != nil {
		f.t.Fatal(err)
	}
}

// invite creates an invitation as user and fails the test if it cannot.
func (f *family) invite(user string, inv *progressv1.Invitation) *progressv1.Invitation {
	f.t.Helper()
	if inv == nil {
		inv = &progressv1.Invitation{Relation: "grandmother"}
	}
	got, err := f.s.CreateInvitation(f.as(user), &progressv1.CreateInvitationRequest{Parent: f.child, Invitation: inv})
	if err != nil {
		f.t.Fatal(err)
	}
	return got
}

func (f *family) redeem(user, token string) (*progressv1.Guardianship, error) {
	return f.s.RedeemInvitation(f.as(user), &progressv1.RedeemInvitationRequest{Token: token})
}

func (f *family) revoke(user, name string) (*progressv1.Invitation, error) {
	return f.s.RevokeInvitation(f.as(user), &progressv1.RevokeInvitationRequest{Name: name})
}

func (f *family) get(name string) *progressv1.Invitation {
	f.t.Helper()
	got, err := f.s.GetInvitation(f.as("root"), &progressv1.GetInvitationRequest{Name: name})
	if err != nil {
		f.t.Fatal(err)
	}
	return got
}

// events are the events waiting in the outbox, oldest first.
func (f *family) events() []*notificationpeerv1.Event {
	f.t.Helper()
	rows, err := f.svc.db.QueryContext(f.t.Context(), `SELECT payload FROM outbox_messages ORDER BY create_us, seq`)
	if err != nil {
		f.t.Fatal(err)
	}
	defer rows.Close()
	var out []*notificationpeerv1.Event
	for rows.Next() {
		var payload []byte
		if err := rows.Scan(&payload); err != nil {
			f.t.Fatal(err)
		}
		ev := &notificationpeerv1.Event{}
		if err := proto.Unmarshal(payload, ev); err != nil {
			f.t.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}

// refused checks err's code and progress reason.
func refused(t *testing.T, what string, err error, code codes.Code, reason progressv1.ErrorReason) {
	t.Helper()
	if status.Code(err) != code || errinfo.ProgressReason(err) != reason {
		t.Errorf("%s: %v (reason %v), want %v %v", what, err, errinfo.ProgressReason(err), code, reason)
	}
}

func TestCreateInvitationPermissions(t *testing.T) {
	const (
		guardian    = progressv1.Role_ROLE_GUARDIAN
		contributor = progressv1.Role_ROLE_CONTRIBUTOR
	)
	for _, tt := range []struct {
		what      string
		mayInvite bool
		user      string
		role      progressv1.Role
		want      codes.Code
	}{
		{"an administrator, guardians may not invite", false, "root", guardian, codes.OK},
		{"an administrator invites a contributor", false, "root", contributor, codes.OK},
		{"a guardian, guardians may not invite", false, "maria", guardian, codes.PermissionDenied},
		{"a contributor, guardians may not invite", false, "tom", guardian, codes.PermissionDenied},
		{"a guardian, guardians may invite", true, "maria", guardian, codes.OK},
		{"a guardian, no role given", true, "maria", progressv1.Role_ROLE_UNSPECIFIED, codes.OK},
		{"a contributor, guardians may invite", true, "tom", guardian, codes.OK},
		{"a guardian invites a contributor", true, "maria", contributor, codes.PermissionDenied},
		{"a contributor invites a contributor", true, "tom", contributor, codes.PermissionDenied},
		{"a stranger", true, "olga", guardian, codes.NotFound},
	} {
		t.Run(tt.what, func(t *testing.T) {
			f := newFamily(t, tt.mayInvite)
			got, err := f.s.CreateInvitation(f.as(tt.user), &progressv1.CreateInvitationRequest{Parent: f.child,
				Invitation: &progressv1.Invitation{Role: tt.role, Relation: "aunt"}})
			if status.Code(err) != tt.want {
				t.Fatalf("%v, want %v", err, tt.want)
			}
			if err != nil {
				return
			}
			wantRole := tt.role
			if wantRole == progressv1.Role_ROLE_UNSPECIFIED {
				wantRole = guardian
			}
			if got.GetRole() != wantRole || got.GetCreator() != tt.user || got.GetState() != progressv1.InvitationState_INVITATION_STATE_ACTIVE ||
				got.GetRelation() != "aunt" || !strings.HasPrefix(got.GetName(), f.child+"/invitations/") {
				t.Fatalf("created %v", got)
			}
		})
	}
}

func TestCreateInvitationTokenAndExpiry(t *testing.T) {
	f := newFamily(t, true)
	now := f.clock.Now()
	got := f.invite("maria", nil)
	raw, err := base64.RawURLEncoding.DecodeString(got.GetToken())
	if err != nil || len(raw) != 32 {
		t.Fatalf("token %q: %d bytes, %v; want 32 random bytes in base64url", got.GetToken(), len(raw), err)
	}
	if !got.GetExpireTime().AsTime().Equal(now.Add(7*24*time.Hour)) || !got.GetCreateTime().AsTime().Equal(now) {
		t.Fatalf("created %v, expires %v; want now and 7 days later", got.GetCreateTime().AsTime(), got.GetExpireTime().AsTime())
	}
	if got.GetTtl() != nil {
		t.Errorf("ttl is input only, got %v", got.GetTtl())
	}
	// The token is shown once: never by Get or List.
	if f.get(got.GetName()).GetToken() != "" {
		t.Error("GetInvitation shows the token")
	}
	list, err := f.s.ListInvitations(f.as("maria"), &progressv1.ListInvitationsRequest{Parent: f.child})
	if err != nil || len(list.GetInvitations()) != 1 || list.GetInvitations()[0].GetToken() != "" {
		t.Fatalf("listed %v, %v", list, err)
	}
	short := f.invite("maria", &progressv1.Invitation{Ttl: durationpb.New(time.Hour)})
	if !short.GetExpireTime().AsTime().Equal(now.Add(time.Hour)) {
		t.Errorf("with a ttl of an hour: expires %v", short.GetExpireTime().AsTime())
	}
	if short.GetToken() == got.GetToken() {
		t.Error("two invitations share a token")
	}
	for _, ttl := range []time.Duration{time.Second, 31 * 24 * time.Hour} {
		_, err := f.s.CreateInvitation(f.as("maria"), &progressv1.CreateInvitationRequest{Parent: f.child,
			Invitation: &progressv1.Invitation{Ttl: durationpb.New(ttl)}})
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("ttl %v: %v, want INVALID_ARGUMENT", ttl, err)
		}
	}
}

func TestRedeemInvitation(t *testing.T) {
	const inviteTTL = 24 * time.Hour
	for _, tt := range []struct {
		what   string
		before func(f *family, inv *progressv1.Invitation) // what happens between invite and redeem
		user   string
		code   codes.Code
		reason progressv1.ErrorReason
		// usable: the invitation is still active afterwards.
		usable bool
	}{
		{what: "an active invitation", user: "olga"},
		{what: "just before it expires", user: "olga",
			before: func(f *family, _ *progressv1.Invitation) { f.clock.Advance(inviteTTL - time.Microsecond) }},
		{what: "when it expires", user: "olga", code: codes.FailedPrecondition, reason: progressv1.ErrorReason_ERROR_REASON_INVITATION_EXPIRED,
			before: func(f *family, _ *progressv1.Invitation) { f.clock.Advance(inviteTTL) }},
		{what: "used already", user: "olga", code: codes.FailedPrecondition, reason: progressv1.ErrorReason_ERROR_REASON_INVITATION_REDEEMED,
			before: func(f *family, inv *progressv1.Invitation) {
				if _, err := f.redeem("ivan", inv.GetToken()); err != nil {
					f.t.Fatal(err)
				}
			}},
		{what: "revoked", user: "olga", code: codes.FailedPrecondition, reason: progressv1.ErrorReason_ERROR_REASON_INVITATION_REVOKED,
			before: func(f *family, inv *progressv1.Invitation) {
				if _, err := f.revoke("maria", inv.GetName()); err != nil {
					f.t.Fatal(err)
				}
			}},
		{what: "by a guardian of the child", user: "tom", code: codes.AlreadyExists, reason: progressv1.ErrorReason_ERROR_REASON_ALREADY_GUARDIAN, usable: true},
		{what: "after the child was deleted", user: "olga", code: codes.NotFound,
			before: func(f *family, _ *progressv1.Invitation) {
				if _, err := f.s.DeleteChild(f.as("root"), &progressv1.DeleteChildRequest{Name: f.child}); err != nil {
					f.t.Fatal(err)
				}
			}},
	} {
		t.Run(tt.what, func(t *testing.T) {
			f := newFamily(t, true)
			inv := f.invite("maria", &progressv1.Invitation{Relation: "grandmother", Ttl: durationpb.New(inviteTTL)})
			if tt.before != nil {
				tt.before(f, inv)
			}
			eventsBefore := len(f.events())
			g, err := f.redeem(tt.user, inv.GetToken())
			refused(t, "redeem", err, tt.code, tt.reason)
			if tt.code != codes.OK {
				if n := len(f.events()); n != eventsBefore {
					t.Errorf("a refused redeem added %d events", n-eventsBefore)
				}
				if tt.usable {
					if got := f.get(inv.GetName()); got.GetState() != progressv1.InvitationState_INVITATION_STATE_ACTIVE {
						t.Errorf("the invitation is %v, want it still active", got.GetState())
					}
					if _, err := f.redeem("olga", inv.GetToken()); err != nil {
						t.Errorf("someone else redeems it afterwards: %v", err)
					}
				}
				return
			}
			want := &progressv1.Guardianship{Name: f.child + "/guardians/" + tt.user, User: tt.user,
				Role: progressv1.Role_ROLE_GUARDIAN, Relation: "grandmother"}
			if g.GetName() != want.GetName() || g.GetUser() != want.GetUser() || g.GetRole() != want.GetRole() || g.GetRelation() != want.GetRelation() {
				t.Fatalf("guardianship %v, want %v", g, want)
			}
			// The redeemer now follows the child...
			me, err := f.s.GetUser(f.as(tt.user), &progressv1.GetUserRequest{Name: "users/me"})
			if err != nil || len(me.GetChildren()) != 1 || me.GetChildren()[0].GetChild() != f.child {
				t.Fatalf("users/me: %v, %v", me, err)
			}
			// ...the invitation is used up...
			used := f.get(inv.GetName())
			if used.GetState() != progressv1.InvitationState_INVITATION_STATE_REDEEMED || used.GetRedeemer() != tt.user ||
				!used.GetRedeemTime().AsTime().Equal(f.clock.Now()) {
				t.Fatalf("after redeeming: %v", used)
			}
			// ...and the family hears of it, in the same transaction.
			evs := f.events()
			if len(evs) != eventsBefore+1 {
				t.Fatalf("%d new events, want 1", len(evs)-eventsBefore)
			}
			ev := evs[len(evs)-1]
			if ev.GetType() != notificationv1.EventType_EVENT_TYPE_GUARDIANSHIP_GRANTED || ev.GetActor() != tt.user || ev.GetUser() != tt.user ||
				ev.GetChild() != f.child || ev.GetLink() != want.GetName() || !strings.Contains(ev.GetBody(), "invited by maria") {
				t.Fatalf("event %v", ev)
			}
		})
	}
}

// TestRedeemGuessedTokens: whatever is sent, a token that redeems nothing
// gets the same NOT_FOUND, with no details and without echoing the input.
func TestRedeemGuessedTokens(t *testing.T) {
	f := newFamily(t, true)
	inv := f.invite("maria", nil)
	tok := inv.GetToken()
	flipped := []byte(tok)
	flipped[10] ^= 1
	var want *status.Status
	for _, guess := range []string{
		string(flipped),
		tok[:len(tok)-1],
		tok + "A",
		strings.ToUpper(tok),
		hashToken(tok), // what the database holds
		inv.GetName(),
		base64.RawURLEncoding.EncodeToString(make([]byte, 32)),
		"' OR 1=1 --",
		"%00",
		"🙂",
		strings.Repeat("x", 256),
	} {
		_, err := f.redeem("olga", guess)
		st := status.Convert(err)
		if st.Code() != codes.NotFound || len(st.Details()) != 0 || strings.Contains(st.Message(), guess) {
			t.Errorf("guess %q: %v %q %v", guess, st.Code(), st.Message(), st.Details())
		}
		if want == nil {
			want = st
		} else if st.Message() != want.Message() {
			t.Errorf("guess %q: %q, unlike the first guess's %q", guess, st.Message(), want.Message())
		}
	}
	if got := f.get(inv.GetName()); got.GetState() != progressv1.InvitationState_INVITATION_STATE_ACTIVE {
		t.Errorf("after the guesses the invitation is %v", got.GetState())
	}
	if _, err := f.redeem("olga", ""); status.Code(err) != codes.InvalidArgument {
		t.Errorf("no token: %v, want INVALID_ARGUMENT", err)
	}
	if _, err := f.s.RedeemInvitation(t.Context(), &progressv1.RedeemInvitationRequest{Token: tok}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("not signed in: %v", err)
	}
}

// TestRedeemRace: of redeems racing for one invitation exactly one wins,
// the others learn it was redeemed.
func TestRedeemRace(t *testing.T) {
	f := newFamily(t, true)
	inv := f.invite("maria", nil)
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { _, errs[i] = f.redeem(fmt.Sprintf("relative%d", i), inv.GetToken()) })
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
			continue
		}
		refused(t, "a losing redeem", err, codes.FailedPrecondition, progressv1.ErrorReason_ERROR_REASON_INVITATION_REDEEMED)
	}
	gs, err := f.s.ListGuardianships(f.as("root"), &progressv1.ListGuardianshipsRequest{Parent: f.child})
	if won != 1 || err != nil || len(gs.GetGuardianships()) != 3 { // maria, tom and the winner
		t.Fatalf("%d won; guardians %v, %v", won, gs, err)
	}
	if n := len(f.events()); n != 3 { // two grants by root, one redeem
		t.Fatalf("%d events, want 3", n)
	}
}

// TestRedeemRetriedByTheRedeemer: the same user redeeming again (the first
// answer lost, or two requests at once) gets the guardianship it gave, not
// "already used", and nothing is recorded twice; once that guardianship is
// removed, the used link stays used.
func TestRedeemRetriedByTheRedeemer(t *testing.T) {
	f := newFamily(t, true)
	inv := f.invite("maria", &progressv1.Invitation{Relation: "aunt"})
	const n = 4
	got := make([]*progressv1.Guardianship, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { got[i], errs[i] = f.redeem("olga", inv.GetToken()) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || got[i].GetName() != f.child+"/guardians/olga" || got[i].GetRelation() != "aunt" {
			t.Fatalf("redeem %d by the same user: %v, %v", i, got[i], errs[i])
		}
	}
	if again, err := f.redeem("olga", inv.GetToken()); err != nil || again.GetName() != got[0].GetName() {
		t.Fatalf("a later retry: %v, %v", again, err)
	}
	if n := len(f.events()); n != 3 { // two grants by root, one redeem
		t.Fatalf("%d events, want 3", n)
	}
	_, err := f.redeem("ivan", inv.GetToken())
	refused(t, "someone else", err, codes.FailedPrecondition, progressv1.ErrorReason_ERROR_REASON_INVITATION_REDEEMED)

	if _, err := f.s.DeleteGuardianship(f.as("root"), &progressv1.DeleteGuardianshipRequest{Name: f.child + "/guardians/olga"}); err != nil {
		t.Fatal(err)
	}
	_, err = f.redeem("olga", inv.GetToken())
	refused(t, "the redeemer, removed since", err, codes.FailedPrecondition, progressv1.ErrorReason_ERROR_REASON_INVITATION_REDEEMED)
}

func TestInvitationCap(t *testing.T) {
	f := newFamily(t, true)
	var first *progressv1.Invitation
	for i := range maxActiveInvitations {
		inv := f.invite("root", &progressv1.Invitation{Ttl: durationpb.New(time.Duration(i+1) * time.Hour)})
		if i == 0 {
			first = inv
		}
	}
	create := func() error {
		_, err := f.s.CreateInvitation(f.as("root"), &progressv1.CreateInvitationRequest{Parent: f.child, Invitation: &progressv1.Invitation{}})
		return err
	}
	err := create()
	refused(t, "the 101st", err, codes.ResourceExhausted, progressv1.ErrorReason_ERROR_REASON_TOO_MANY_INVITATIONS)
	for _, d := range status.Convert(err).Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetMetadata()["limit"] != "100" {
			t.Errorf("metadata %v", info.GetMetadata())
		}
	}
	// A revoked one frees a place...
	if _, err := f.revoke("root", first.GetName()); err != nil {
		t.Fatal(err)
	}
	if err := create(); err != nil {
		t.Fatalf("after revoking one: %v", err)
	}
	refused(t, "full again", create(), codes.ResourceExhausted, progressv1.ErrorReason_ERROR_REASON_TOO_MANY_INVITATIONS)
	// ...and so does one that expired (the second lives two hours).
	f.clock.Advance(2 * time.Hour)
	if err := create(); err != nil {
		t.Fatalf("after one expired: %v", err)
	}
}

// TestInvitationCapPerGuardian: one guardian cannot take a child's every
// place: ten active links each, while administrators and the others still
// may invite.
func TestInvitationCapPerGuardian(t *testing.T) {
	f := newFamily(t, true)
	var first *progressv1.Invitation
	for i := range maxInvitationsByGuardian {
		inv := f.invite("maria", nil)
		if i == 0 {
			first = inv
		}
	}
	create := func(user string) error {
		_, err := f.s.CreateInvitation(f.as(user), &progressv1.CreateInvitationRequest{Parent: f.child, Invitation: &progressv1.Invitation{}})
		return err
	}
	err := create("maria")
	refused(t, "maria's 11th", err, codes.ResourceExhausted, progressv1.ErrorReason_ERROR_REASON_TOO_MANY_INVITATIONS)
	for _, d := range status.Convert(err).Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && (info.GetMetadata()["limit"] != "10" || info.GetMetadata()["scope"] != "creator") {
			t.Errorf("metadata %v", info.GetMetadata())
		}
	}
	if err := create("tom"); err != nil {
		t.Errorf("another contributor: %v", err)
	}
	if err := create("root"); err != nil {
		t.Errorf("an administrator: %v", err)
	}
	// Redeemed links free her places as revoked and expired ones do.
	if _, err := f.redeem("olga", first.GetToken()); err != nil {
		t.Fatal(err)
	}
	if err := create("maria"); err != nil {
		t.Errorf("after one was redeemed: %v", err)
	}
}

func TestRevokeInvitation(t *testing.T) {
	for _, tt := range []struct {
		what    string
		creator string
		revoker string
		before  func(f *family, inv *progressv1.Invitation)
		code    codes.Code
		reason  progressv1.ErrorReason
	}{
		{what: "by its creator", creator: "maria", revoker: "maria"},
		{what: "by a contributor", creator: "maria", revoker: "tom"},
		{what: "by an administrator", creator: "maria", revoker: "root"},
		{what: "by another guardian", creator: "tom", revoker: "maria", code: codes.PermissionDenied},
		{what: "by a stranger", creator: "maria", revoker: "olga", code: codes.NotFound},
		{what: "twice", creator: "maria", revoker: "maria",
			before: func(f *family, inv *progressv1.Invitation) {
				if _, err := f.revoke("root", inv.GetName()); err != nil {
					f.t.Fatal(err)
				}
			}},
		{what: "once redeemed", creator: "maria", revoker: "maria", code: codes.FailedPrecondition, reason: progressv1.ErrorReason_ERROR_REASON_INVITATION_REDEEMED,
			before: func(f *family, inv *progressv1.Invitation) {
				if _, err := f.redeem("olga", inv.GetToken()); err != nil {
					f.t.Fatal(err)
				}
			}},
		{what: "once expired", creator: "maria", revoker: "maria", code: codes.FailedPrecondition, reason: progressv1.ErrorReason_ERROR_REASON_INVITATION_EXPIRED,
			before: func(f *family, _ *progressv1.Invitation) { f.clock.Advance(7 * 24 * time.Hour) }},
	} {
		t.Run(tt.what, func(t *testing.T) {
			f := newFamily(t, true)
			inv := f.invite(tt.creator, nil)
			if tt.before != nil {
				tt.before(f, inv)
			}
			got, err := f.revoke(tt.revoker, inv.GetName())
			refused(t, "revoke", err, tt.code, tt.reason)
			if err != nil {
				return
			}
			if got.GetState() != progressv1.InvitationState_INVITATION_STATE_REVOKED || got.GetRevokeTime() == nil || got.GetToken() != "" {
				t.Fatalf("revoked: %v", got)
			}
			refused(t, "redeeming it", func() error { _, err := f.redeem("olga", inv.GetToken()); return err }(),
				codes.FailedPrecondition, progressv1.ErrorReason_ERROR_REASON_INVITATION_REVOKED)
		})
	}
	f := newFamily(t, true)
	if _, err := f.revoke("root", f.child+"/invitations/nope"); status.Code(err) != codes.NotFound {
		t.Errorf("a missing invitation: %v", err)
	}
	if _, err := f.revoke("root", "children/x/invitations/"); status.Code(err) != codes.InvalidArgument {
		t.Errorf("a malformed name: %v", err)
	}
}

func TestListInvitations(t *testing.T) {
	f := newFamily(t, true)
	var names []string
	for range 5 {
		names = append(names, f.invite("maria", &progressv1.Invitation{Ttl: durationpb.New(time.Hour)}).GetName())
		f.clock.Advance(time.Minute)
	}
	f.clock.Advance(time.Hour - 4*time.Minute) // the first two have expired
	var got []*progressv1.Invitation
	token := ""
	for {
		page, err := f.s.ListInvitations(f.as("maria"), &progressv1.ListInvitationsRequest{Parent: f.child, PageSize: 2, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page.GetInvitations()...)
		if token = page.GetNextPageToken(); token == "" {
			break
		}
	}
	if len(got) != 5 {
		t.Fatalf("listed %d, want 5", len(got))
	}
	for i, inv := range got {
		want := progressv1.InvitationState_INVITATION_STATE_ACTIVE
		if i >= 3 {
			want = progressv1.InvitationState_INVITATION_STATE_EXPIRED
		}
		if inv.GetName() != names[4-i] || inv.GetState() != want || inv.GetToken() != "" {
			t.Errorf("#%d: %s %v, want %s %v, newest first", i, inv.GetName(), inv.GetState(), names[4-i], want)
		}
	}
	if _, err := f.s.ListInvitations(f.as("olga"), &progressv1.ListInvitationsRequest{Parent: f.child}); status.Code(err) != codes.NotFound {
		t.Errorf("a stranger lists: %v", err)
	}
	if _, err := f.s.GetInvitation(f.as("olga"), &progressv1.GetInvitationRequest{Name: names[0]}); status.Code(err) != codes.NotFound {
		t.Errorf("a stranger gets one: %v", err)
	}
}

// TestDeletedChildTakesInvitations: a deleted child's links stop working
// and its invitations are gone.
func TestDeletedChildTakesInvitations(t *testing.T) {
	f := newFamily(t, true)
	inv := f.invite("maria", nil)
	if _, err := f.s.DeleteChild(f.as("root"), &progressv1.DeleteChildRequest{Name: f.child}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.redeem("olga", inv.GetToken()); status.Code(err) != codes.NotFound {
		t.Errorf("redeeming: %v", err)
	}
	var n int
	if err := f.svc.db.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM invitations`).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d invitations left (%v)", n, err)
	}
}

func TestGuardiansMayInvite(t *testing.T) {
	f := newFamily(t, false)
	update := func(user string, on bool) (*progressv1.Child, error) {
		return f.s.UpdateChild(f.as(user), &progressv1.UpdateChildRequest{
			Child:      &progressv1.Child{Name: f.child, GuardiansMayInvite: on},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"guardiansMayInvite"}},
		})
	}
	if _, err := update("maria", true); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("a guardian turns it on: %v", err)
	}
	if c, err := update("root", true); err != nil || !c.GetGuardiansMayInvite() || c.GetDisplayName() != "Ada" {
		t.Fatalf("an administrator turns it on: %v, %v", c, err)
	}
	if c, err := f.s.GetChild(f.as("maria"), &progressv1.GetChildRequest{Name: f.child}); err != nil || !c.GetGuardiansMayInvite() {
		t.Fatalf("a guardian sees %v, %v", c, err)
	}
	marias, toms, roots := f.invite("maria", nil), f.invite("tom", nil), f.invite("root", nil)
	if _, err := update("root", false); err != nil {
		t.Fatal(err)
	}
	_, err := f.s.CreateInvitation(f.as("maria"), &progressv1.CreateInvitationRequest{Parent: f.child, Invitation: &progressv1.Invitation{}})
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("after turning it off: %v", err)
	}
	// The links guardians and contributors sent stop working with the
	// switch; an administrator's keep working.
	for who, inv := range map[string]*progressv1.Invitation{"maria": marias, "tom": toms} {
		if got := f.get(inv.GetName()); got.GetState() != progressv1.InvitationState_INVITATION_STATE_REVOKED {
			t.Errorf("%s's link is %v after turning it off", who, got.GetState())
		}
		_, err := f.redeem("olga", inv.GetToken())
		refused(t, who+"'s link", err, codes.FailedPrecondition, progressv1.ErrorReason_ERROR_REASON_INVITATION_REVOKED)
	}
	if _, err := f.redeem("olga", roots.GetToken()); err != nil {
		t.Errorf("the administrator's link: %v", err)
	}
	// Turning it on again brings no revoked link back.
	if _, err := update("root", true); err != nil {
		t.Fatal(err)
	}
	if _, err := f.redeem("ivan", marias.GetToken()); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("maria's link after turning it on again: %v", err)
	}
}

// TestInvitationNamesAreInvalidArgument: the invitation RPCs parse their
// names before anything else, like every RPC (names_test.go).
func TestInvitationNamesAreInvalidArgument(t *testing.T) {
	s := &server{} // no store: a parse that let a name through would panic
	ctx := as(t.Context(), "root", true)
	for _, tt := range []struct {
		field string
		call  func() error
	}{
		{"parent", func() error {
			_, err := s.CreateInvitation(ctx, &progressv1.CreateInvitationRequest{Parent: "children/ABC", Invitation: &progressv1.Invitation{}})
			return err
		}},
		{"parent", func() error {
			_, err := s.ListInvitations(ctx, &progressv1.ListInvitationsRequest{Parent: "children/a/invitations"})
			return err
		}},
		{"name", func() error {
			_, err := s.GetInvitation(ctx, &progressv1.GetInvitationRequest{Name: "children/a/guardians/b"})
			return err
		}},
		{"name", func() error {
			_, err := s.RevokeInvitation(ctx, &progressv1.RevokeInvitationRequest{Name: "children/a/invitations/X"})
			return err
		}},
	} {
		st := status.Convert(tt.call())
		var fields []string
		for _, d := range st.Details() {
			if br, ok := d.(*errdetails.BadRequest); ok {
				for _, fv := range br.GetFieldViolations() {
					fields = append(fields, fv.GetField())
				}
			}
		}
		if st.Code() != codes.InvalidArgument || len(fields) != 1 || fields[0] != tt.field {
			t.Errorf("%s: %v, violations %v; want INVALID_ARGUMENT on %s", tt.field, st.Err(), fields, tt.field)
		}
	}
}

// TestRemovedGuardiansInvitationsAreRevoked: an administrator who removes
// a guardian also stops the invitations that guardian sent. Before, a
// removed relative kept working links: redeemed with a second account (or
// handed to someone else), they let the removed person back in.
func TestRemovedGuardiansInvitationsAreRevoked(t *testing.T) {
	f := newFamily(t, true)
	byMaria := f.invite("maria", nil)
	byTom := f.invite("tom", nil)
	used := f.invite("maria", nil)
	if _, err := f.redeem("gran", used.GetToken()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.DeleteGuardianship(f.as("root"), &progressv1.DeleteGuardianshipRequest{Name: f.child + "/guardians/maria"}); err != nil {
		t.Fatal(err)
	}
	_, err := f.redeem("maria2", byMaria.GetToken())
	refused(t, "redeeming a removed guardian's invitation", err, codes.FailedPrecondition, progressv1.ErrorReason_ERROR_REASON_INVITATION_REVOKED)
	if st := f.get(byMaria.GetName()).GetState(); st != progressv1.InvitationState_INVITATION_STATE_REVOKED {
		t.Fatalf("state = %v, want REVOKED", st)
	}
	if st := f.get(used.GetName()).GetState(); st != progressv1.InvitationState_INVITATION_STATE_REDEEMED {
		t.Fatalf("a redeemed invitation's state = %v, want REDEEMED", st)
	}
	if _, err := f.redeem("uncle", byTom.GetToken()); err != nil {
		t.Fatalf("another guardian's invitation: %v", err)
	}
}
