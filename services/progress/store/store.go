// Package store keeps the progress service's state: children and
// guardianships. One SQL implementation serves SQLite and PostgreSQL.
package store

import (
	"context"
	"embed"
	"errors"
	"io/fs"
	"time"

	"github.com/kinbridge/kinbridge/pkg/outbox"

	"github.com/kinbridge/kinbridge/pkg/sqldb"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations returns the schema migrations, for sqldb.Open and `kinbridge migrate`.
func Migrations() fs.FS { return sqldb.MigrationsDir(migrations, "migrations") }

// Errors the store reports; callers map them to API status codes.
var (
	ErrNotFound      = errors.New("not found")
	ErrAlreadyExists = errors.New("already exists")
	// ErrStale means the caller's expected revision is no longer current.
	ErrStale = errors.New("revision is not current")
)

// Role is what a guardianship allows. The numbers match the contract's enum.
type Role int

// Roles, weakest first: a higher role includes the lower ones.
const (
	RoleNone        Role = 0
	RoleGuardian    Role = 1
	RoleContributor Role = 2
)

// Child is a child whose school life is followed.
type Child struct {
	ID          string
	DisplayName string
	BirthDate   string // YYYY-MM-DD or empty
	School      string
	GradeLevel  string
	TimeZone    string
	CreateTime  time.Time
	UpdateTime  time.Time
	Revision    int64 // increases on every change; the etag is derived from it
	// GuardiansMayInvite lets the child's guardians create invitations.
	GuardiansMayInvite bool
	// RequireApproval makes what contributors record a draft (approval.go).
	RequireApproval bool
}

// Guardianship is one user's right to follow one child.
type Guardianship struct {
	ChildID    string
	User       string
	Role       Role
	Relation   string
	CreateTime time.Time
	UpdateTime time.Time
	Revision   int64
}

// ChildCursor is the position after the last child of a page: children are
// listed by (creation time, id), so rows inserted meanwhile never shift a page.
type ChildCursor struct {
	CreateTime time.Time
	ID         string
}

// ListChildrenQuery selects a page of children.
type ListChildrenQuery struct {
	User  string       // only children this user is a guardian of; empty for all
	After *ChildCursor // nil for the first page
	Limit int
}

// FollowedChild is a child a user holds a guardianship of, with the
// guardianship's terms.
type FollowedChild struct {
	ChildID     string
	DisplayName string
	Role        Role
	Relation    string
}

// Store is the progress service's repository. Writes that others must
// hear about take the events announcing them, which are added to the
// outbox in the same transaction: stored together or not at all.
type Store interface {
	Records
	Invitations
	Approvals

	CreateChild(ctx context.Context, c Child) (Child, error)
	GetChild(ctx context.Context, id string) (Child, error)
	ListChildren(ctx context.Context, q ListChildrenQuery) ([]Child, error)
	// UpdateChild applies change to the current child and stores the result.
	// expectRevision 0 means "whatever is current"; otherwise a different
	// current revision fails with ErrStale and nothing changes.
	UpdateChild(ctx context.Context, id string, expectRevision int64, change func(*Child) error) (Child, error)
	// DeleteChild removes the child and, by cascade, its guardianships.
	DeleteChild(ctx context.Context, id string, expectRevision int64, events ...outbox.Message) error

	CreateGuardianship(ctx context.Context, g Guardianship, events ...outbox.Message) (Guardianship, error)
	GetGuardianship(ctx context.Context, childID, user string) (Guardianship, error)
	// ListGuardianships lists a child's guardianships ordered by user, after afterUser.
	ListGuardianships(ctx context.Context, childID, afterUser string, limit int) ([]Guardianship, error)
	UpdateGuardianship(ctx context.Context, childID, user string, expectRevision int64, change func(*Guardianship) error) (Guardianship, error)
	// DeleteGuardianship also revokes at now the user's active invitations to the child.
	DeleteGuardianship(ctx context.Context, childID, user string, expectRevision int64, now time.Time, events ...outbox.Message) error

	// Guardians lists every guardianship of a child, by user.
	Guardians(ctx context.Context, childID string) ([]Guardianship, error)

	// FollowedChildren lists the children user is a guardian of, with
	// their role, by child creation (create time, then id: the order of
	// ListChildren), at most limit of them.
	FollowedChildren(ctx context.Context, user string, limit int) ([]FollowedChild, error)

	// Role returns the user's role on the child (RoleNone without one) and
	// whether the child exists.
	Role(ctx context.Context, childID, user string) (role Role, childExists bool, err error)
}
