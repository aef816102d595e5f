package progress

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
	"github.com/kinbridge/kinbridge/pkg/errinfo"
	"github.com/kinbridge/kinbridge/pkg/names"
	"github.com/kinbridge/kinbridge/pkg/pagetoken"
	"github.com/kinbridge/kinbridge/pkg/validate"
	"github.com/kinbridge/kinbridge/services/progress/store"
)

// Invitations: a guardian (or an administrator) creates a one-time link
// for a relative; whoever redeems its token becomes a guardian. Only the
// token's SHA-256 is stored, so a leaked database redeems nothing, and an
// unknown token is answered with the same NOT_FOUND whatever it looks
// like, so guessing teaches nothing.

// The contract's numbers.
const (
	maxActiveInvitations = 100
	// maxInvitationsByGuardian caps the active links one guardian sends
	// to a child, so one cannot take the child's every place.
	maxInvitationsByGuardian = 10
	defaultInvitationTTL     = 7 * 24 * time.Hour
	minInvitationTTL         = time.Minute
	maxInvitationTTL         = 30 * 24 * time.Hour
	// tokenBytes of randomness: 256 bits, 43 characters of base64url.
	tokenBytes = 32
)

// newToken returns a fresh token and the hash that is stored for it.
func newToken() (token, hash string) {
	b := make([]byte, tokenBytes)
	rand.Read(b) // never fails (crypto/rand since Go 1.24)
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, hashToken(token)
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func invitationsListing(childID string) string { return "invitations:" + childID }

// errNoSuchToken is the one answer to a token that redeems nothing: it
// neither echoes the token nor says how it failed.
var errNoSuchToken = status.Error(codes.NotFound, "no invitation has this token")

func invitationToProto(i store.Invitation, now time.Time) *progressv1.Invitation {
	out := &progressv1.Invitation{
		Name:       names.Invitation{Child: i.ChildID, ID: i.ID}.String(),
		Role:       progressv1.Role(i.Role),
		Relation:   i.Relation,
		State:      progressv1.InvitationState(i.State(now)),
		ExpireTime: timestamppb.New(i.ExpireTime),
		Creator:    i.Creator,
		Redeemer:   i.Redeemer,
		CreateTime: timestamppb.New(i.CreateTime),
	}
	if !i.RedeemTime.IsZero() {
		out.RedeemTime = timestamppb.New(i.RedeemTime)
	}
	if !i.RevokeTime.IsZero() {
		out.RevokeTime = timestamppb.New(i.RevokeTime)
	}
	return out
}

// notActive is the refusal of using an invitation that is not active at
// now, nil when it is.
func notActive(i store.Invitation, now time.Time) error {
	switch i.State(now) {
	case store.InvitationRedeemed:
		return errinfo.Progress(codes.FailedPrecondition, progressv1.ErrorReason_ERROR_REASON_INVITATION_REDEEMED,
			"the invitation was used already: ask for a new one", nil)
	case store.InvitationRevoked:
		return errinfo.Progress(codes.FailedPrecondition, progressv1.ErrorReason_ERROR_REASON_INVITATION_REVOKED,
			"the invitation was revoked: ask for a new one", nil)
	case store.InvitationExpired:
		return errinfo.Progress(codes.FailedPrecondition, progressv1.ErrorReason_ERROR_REASON_INVITATION_EXPIRED,
			"the invitation has expired: ask for a new one", map[string]string{"expire_time": i.ExpireTime.Format(time.RFC3339)})
	}
	return nil
}

// invitationTTL is the requested lifetime, checked against the contract's
// range (the validating interceptor checks it too; this keeps the service
// safe without it).
func invitationTTL(in *progressv1.Invitation) (time.Duration, error) {
	if in.GetTtl() == nil {
		return defaultInvitationTTL, nil
	}
	ttl := in.GetTtl().AsDuration()
	if ttl < minInvitationTTL || ttl > maxInvitationTTL {
		return 0, validate.InvalidArgument(validate.Field{Path: "invitation.ttl", Description: "must be from 1 minute to 30 days"})
	}
	return ttl, nil
}

// CreateInvitation creates an invitation and returns it with its token,
// the only time the token is ever shown.
func (s *server) CreateInvitation(ctx context.Context, req *progressv1.CreateInvitationRequest) (*progressv1.Invitation, error) {
	cn, err := validate.Name("parent", req.GetParent(), names.ParseChild)
	if err != nil {
		return nil, err
	}
	in := req.GetInvitation()
	ttl, err := invitationTTL(in)
	if err != nil {
		return nil, err
	}
	p, err := s.authorizeChild(ctx, cn.ID, store.RoleGuardian)
	if err != nil {
		return nil, err
	}
	role := store.Role(in.GetRole())
	if role == store.RoleNone {
		role = store.RoleGuardian
	}
	if !p.Admin {
		c, err := s.store.GetChild(ctx, cn.ID)
		if err != nil {
			return nil, storeError(err, cn.String())
		}
		if !c.GuardiansMayInvite {
			return nil, status.Errorf(codes.PermissionDenied,
				"only administrators may invite to %s: an administrator may turn its guardians_may_invite on", cn)
		}
		if role != store.RoleGuardian {
			return nil, status.Error(codes.PermissionDenied, "only administrators may invite contributors")
		}
	}
	now := s.now()
	token, hash := newToken()
	byCreator := maxInvitationsByGuardian
	if p.Admin {
		byCreator = 0
	}
	inv, err := s.store.CreateInvitation(ctx, store.Invitation{
		ChildID: cn.ID, ID: names.NewID(), TokenHash: hash, Role: role, Relation: in.GetRelation(),
		Creator: p.Subject, ByAdmin: p.Admin, CreateTime: now, ExpireTime: now.Add(ttl),
	}, maxActiveInvitations, byCreator)
	if errors.Is(err, store.ErrCreatorLimit) {
		return nil, errinfo.Progress(codes.ResourceExhausted, progressv1.ErrorReason_ERROR_REASON_TOO_MANY_INVITATIONS,
			fmt.Sprintf("you have %d active invitations to %s, as many as one guardian may send: revoke one first", maxInvitationsByGuardian, cn),
			map[string]string{"limit": strconv.Itoa(maxInvitationsByGuardian), "scope": "creator"})
	}
	if errors.Is(err, store.ErrLimit) {
		return nil, errinfo.Progress(codes.ResourceExhausted, progressv1.ErrorReason_ERROR_REASON_TOO_MANY_INVITATIONS,
			fmt.Sprintf("%s has %d active invitations, as many as a child may: revoke one first", cn, maxActiveInvitations),
			map[string]string{"limit": strconv.Itoa(maxActiveInvitations)})
	}
	if err != nil {
		return nil, storeError(err, cn.String())
	}
	out := invitationToProto(inv, now)
	out.Token = token
	return out, nil
}

// GetInvitation returns one invitation of a child the caller may see.
func (s *server) GetInvitation(ctx context.Context, req *progressv1.GetInvitationRequest) (*progressv1.Invitation, error) {
	n, err := validate.Name("name", req.GetName(), names.ParseInvitation)
	if err != nil {
		return nil, err
	}
	if _, err := s.authorizeChild(ctx, n.Child, store.RoleGuardian); err != nil {
		return nil, err
	}
	inv, err := s.store.GetInvitation(ctx, n.Child, n.ID)
	if err != nil {
		return nil, storeError(err, n.String())
	}
	return invitationToProto(inv, s.now()), nil
}

// ListInvitations lists a child's invitations, newest first.
func (s *server) ListInvitations(ctx context.Context, req *progressv1.ListInvitationsRequest) (*progressv1.ListInvitationsResponse, error) {
	cn, err := validate.Name("parent", req.GetParent(), names.ParseChild)
	if err != nil {
		return nil, err
	}
	if _, err := s.authorizeChild(ctx, cn.ID, store.RoleGuardian); err != nil {
		return nil, err
	}
	tok, err := decodePageToken(req.GetPageToken(), invitationsListing(cn.ID))
	if err != nil {
		return nil, err
	}
	var after *store.InvitationCursor
	if tok != nil {
		after = &store.InvitationCursor{CreateTime: time.UnixMicro(tok.AfterTime), ID: tok.AfterID}
	}
	limit := pagetoken.Size(req.GetPageSize()) + 1
	invs, err := s.store.ListInvitations(ctx, cn.ID, after, limit)
	if err != nil {
		return nil, storeError(err, "invitations")
	}
	resp := &progressv1.ListInvitationsResponse{}
	if len(invs) == limit {
		invs = invs[:limit-1]
		last := invs[len(invs)-1]
		resp.NextPageToken = pagetoken.Encode(invitationsListing(cn.ID), cursor{AfterTime: last.CreateTime.UnixMicro(), AfterID: last.ID})
	}
	now := s.now()
	for _, i := range invs {
		resp.Invitations = append(resp.Invitations, invitationToProto(i, now))
	}
	return resp, nil
}

// RevokeInvitation stops an active invitation from working.
func (s *server) RevokeInvitation(ctx context.Context, req *progressv1.RevokeInvitationRequest) (*progressv1.Invitation, error) {
	n, err := validate.Name("name", req.GetName(), names.ParseInvitation)
	if err != nil {
		return nil, err
	}
	p, err := s.authorizeChild(ctx, n.Child, store.RoleGuardian)
	if err != nil {
		return nil, err
	}
	inv, err := s.store.GetInvitation(ctx, n.Child, n.ID)
	if err != nil {
		return nil, storeError(err, n.String())
	}
	if inv.Creator != p.Subject {
		// Someone else's invitation: contributors and administrators only.
		if _, err := s.authorizeChild(ctx, n.Child, store.RoleContributor); err != nil {
			return nil, err
		}
	}
	now := s.now()
	inv, err = s.store.RevokeInvitation(ctx, n.Child, n.ID, now)
	if errors.Is(err, store.ErrNotActive) {
		if inv.State(now) == store.InvitationRevoked {
			return invitationToProto(inv, now), nil // revoked already: done
		}
		return nil, notActive(inv, now)
	}
	if err != nil {
		return nil, storeError(err, n.String())
	}
	return invitationToProto(inv, now), nil
}

// RedeemInvitation makes the caller a guardian with the invitation's
// terms and uses the invitation up, in one transaction.
func (s *server) RedeemInvitation(ctx context.Context, req *progressv1.RedeemInvitationRequest) (*progressv1.Guardianship, error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if req.GetToken() == "" {
		return nil, validate.InvalidArgument(validate.Field{Path: "token", Description: "is required"})
	}
	inv, err := s.store.InvitationByToken(ctx, hashToken(req.GetToken()))
	if errors.Is(err, store.ErrNotFound) {
		return nil, errNoSuchToken
	}
	if err != nil {
		return nil, storeError(err, "invitation")
	}
	now := s.now()
	if g, ok := s.redeemedBy(ctx, inv, p.Subject); ok {
		return g, nil
	}
	if err := notActive(inv, now); err != nil {
		return nil, err
	}
	child := names.Child{ID: inv.ChildID}
	gname := names.Guardianship{Child: inv.ChildID, User: p.Subject}.String()
	ev := event(ctx, notificationv1.EventType_EVENT_TYPE_GUARDIANSHIP_GRANTED, inv.ChildID, "New guardian",
		joinedBody(p.Subject, inv), gname, p.Subject)
	g, err := s.store.RedeemInvitation(ctx, inv.ChildID, inv.ID,
		store.Guardianship{User: p.Subject, Role: inv.Role, Relation: inv.Relation}, now, ev)
	switch {
	case errors.Is(err, store.ErrNotActive):
		// Used, revoked or deleted since it was read: say which.
		current, gerr := s.store.GetInvitation(ctx, inv.ChildID, inv.ID)
		if errors.Is(gerr, store.ErrNotFound) {
			return nil, errNoSuchToken
		}
		if gerr != nil {
			return nil, storeError(gerr, "invitation")
		}
		if g, ok := s.redeemedBy(ctx, current, p.Subject); ok {
			return g, nil
		}
		if err := notActive(current, now); err != nil {
			return nil, err
		}
		return nil, status.Error(codes.Aborted, "the invitation changed while it was redeemed: try again")
	case errors.Is(err, store.ErrAlreadyExists):
		return nil, errinfo.Progress(codes.AlreadyExists, progressv1.ErrorReason_ERROR_REASON_ALREADY_GUARDIAN,
			fmt.Sprintf("you already follow %s; the invitation is left for someone else", child),
			map[string]string{"child": child.String()})
	case err != nil:
		return nil, storeError(err, "invitation")
	}
	s.notify()
	s.accessChanged(ctx, child.String())
	return guardianshipToProto(g), nil
}

// redeemedBy answers a redemption the caller made already (a retry after
// a lost answer, or the same request twice at once) with the guardianship
// it gave, as the first answer would have: only someone else's redemption
// is "already used".
func (s *server) redeemedBy(ctx context.Context, inv store.Invitation, user string) (*progressv1.Guardianship, bool) {
	if inv.RedeemTime.IsZero() || inv.Redeemer != user {
		return nil, false
	}
	g, err := s.store.GetGuardianship(ctx, inv.ChildID, user)
	if err != nil {
		return nil, false // removed since: the link stays used
	}
	return guardianshipToProto(g), true
}

// joinedBody is the event's text: who joined, as what, invited by whom.
func joinedBody(user string, inv store.Invitation) string {
	as := inv.Relation
	if as == "" {
		as = strings.ToLower(strings.TrimPrefix(progressv1.Role(inv.Role).String(), "ROLE_"))
	}
	return fmt.Sprintf("%s joined as %s, invited by %s", user, as, inv.Creator)
}
