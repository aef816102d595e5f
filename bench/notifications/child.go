package main

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc"

	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
)

// benchChild is the child a phase writes about, with the bench-teacher as
// its contributor, and what the phase needs to grant it to more users.
type benchChild struct {
	conn     *grpc.ClientConn
	progress progressv1.ProgressServiceClient
	admin    string // token of bench-admin, who creates and grants
	teacher  string // token of bench-teacher, the contributor
	child    *progressv1.Child
	// grantTimeout bounds each CreateGuardianship (a long setup grants
	// many users while the relay delivers the earlier grants).
	grantTimeout time.Duration
}

// newBenchChild creates a child named name on srv and makes bench-teacher
// its contributor. The caller closes conn.
func newBenchChild(ctx context.Context, srv *server, name string, grantTimeout time.Duration) (*benchChild, error) {
	conn, err := dial(srv.Progress)
	if err != nil {
		return nil, err
	}
	b := &benchChild{conn: conn, progress: progressv1.NewProgressServiceClient(conn), grantTimeout: grantTimeout}
	if b.admin, err = srv.Token("bench-admin", true); err != nil {
		conn.Close()
		return nil, err
	}
	if b.teacher, err = srv.Token("bench-teacher", false); err != nil {
		conn.Close()
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	b.child, err = b.progress.CreateChild(bearer(cctx, b.admin), &progressv1.CreateChildRequest{Child: &progressv1.Child{DisplayName: name}})
	cancel()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("create child: %w", err)
	}
	if err := b.grant(ctx, "bench-teacher", progressv1.Role_ROLE_CONTRIBUTOR); err != nil {
		conn.Close()
		return nil, err
	}
	return b, nil
}

// grant makes user a guardian of the child in role.
func (b *benchChild) grant(ctx context.Context, user string, role progressv1.Role) error {
	cctx, cancel := context.WithTimeout(ctx, b.grantTimeout)
	defer cancel()
	_, err := b.progress.CreateGuardianship(bearer(cctx, b.admin), &progressv1.CreateGuardianshipRequest{Parent: b.child.GetName(),
		Guardianship: &progressv1.Guardianship{User: user, Role: role}})
	if err != nil {
		return fmt.Errorf("grant %s: %w", user, err)
	}
	return nil
}
