package store

import (
	"context"
	"errors"
	"time"

	"github.com/kinbridge/kinbridge/pkg/outbox"
)

// Errors of invitations.
var (
	// ErrLimit means the child has as many active invitations as allowed.
	ErrLimit = errors.New("too many active invitations")
	// ErrCreatorLimit means the creator has as many active invitations to
	// the child as one guardian may send.
	ErrCreatorLimit = errors.New("too many active invitations from one creator")
	// ErrNotActive means the invitation was redeemed, revoked or has
	// expired; the returned invitation says which.
	ErrNotActive = errors.New("invitation is not active")
)

// InvitationState is where an invitation stands. The numbers match the
// contract's enum.
type InvitationState int

// Invitation states.
const (
	InvitationActive   InvitationState = 1
	InvitationRedeemed InvitationState = 2
	InvitationRevoked  InvitationState = 3
	InvitationExpired  InvitationState = 4
)

// Invitation is a one-time link that makes its redeemer a guardian of a
// child. Only the token's hash is stored.
type Invitation struct {
	ChildID   string
	ID        string
	TokenHash string // hex SHA-256 of the token
	Role      Role
	Relation  string
	Creator   string
	// ByAdmin: the creator invited as an administrator. The other links
	// live only while the child lets its guardians invite: turning that
	// off revokes them.
	ByAdmin    bool
	Redeemer   string // empty until redeemed
	CreateTime time.Time
	ExpireTime time.Time
	RedeemTime time.Time // zero until redeemed
	RevokeTime time.Time // zero unless revoked
}

// State is where the invitation stands at now: redeemed and revoked are
// final; an invitation neither is expires at ExpireTime.
func (i Invitation) State(now time.Time) InvitationState {
	switch {
	case !i.RedeemTime.IsZero():
		return InvitationRedeemed
	case !i.RevokeTime.IsZero():
		return InvitationRevoked
	case !now.Before(i.ExpireTime):
		return InvitationExpired
	}
	return InvitationActive
}

// InvitationCursor is the position after the last invitation of a page:
// invitations are listed newest first by (create time, id).
type InvitationCursor struct {
	CreateTime time.Time
	ID         string
}

// Invitations keeps a child's invitations. Times that decide whether an
// invitation is active come from the caller, whose clock they are.
type Invitations interface {
	// CreateInvitation stores inv unless its child has maxActive
	// invitations active at inv.CreateTime already (ErrLimit), or, when
	// maxByCreator is positive, its creator has that many to the child
	// (ErrCreatorLimit). ErrNotFound when the child does not exist.
	// Concurrent creates never pass either cap.
	CreateInvitation(ctx context.Context, inv Invitation, maxActive, maxByCreator int) (Invitation, error)
	GetInvitation(ctx context.Context, childID, id string) (Invitation, error)
	// InvitationByToken finds the invitation whose token hashes to tokenHash.
	InvitationByToken(ctx context.Context, tokenHash string) (Invitation, error)
	// ListInvitations lists a child's invitations newest first, after the
	// cursor (nil: from the newest), at most limit of them.
	ListInvitations(ctx context.Context, childID string, after *InvitationCursor, limit int) ([]Invitation, error)
	// RevokeInvitation revokes an invitation active at now. When it is not
	// active it fails with ErrNotActive and returns the invitation as it is.
	RevokeInvitation(ctx context.Context, childID, id string, now time.Time) (Invitation, error)
	// RedeemInvitation, in one transaction: marks the invitation redeemed
	// by g.User at now if it is active at now (ErrNotActive otherwise: of
	// two concurrent redeems exactly one passes), grants g
	// (ErrAlreadyExists when the user already follows the child: then
	// nothing changes) and adds the events to the outbox.
	RedeemInvitation(ctx context.Context, childID, id string, g Guardianship, now time.Time, events ...outbox.Message) (Guardianship, error)
}
