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

// dialMux opens n connections to addr for feeds to share.
func dialMux(addr string, n int) ([]*grpc.ClientConn, error) {
	conns := make([]*grpc.ClientConn, 0, n)
	for range n {
		c, err := dial(addr)
		if err != nil {
			for _, c := range conns {
				c.Close()
			}
			return nil, err
		}
		conns = append(conns, c)
	}
	return conns, nil
}

// drain waits until every feed in subs carried want distinct
// notifications, or limit has passed; it reports which, and how long it
// waited.
func drain(ctx context.Context, subs []*subscriber, want int, limit time.Duration) (drained bool, took time.Duration, err error) {
	start := time.Now()
	for {
		behind := 0
		for _, s := range subs {
			if s.distinct() < want {
				behind++
			}
		}
		if behind == 0 {
			return true, time.Since(start), nil
		}
		if time.Since(start) > limit {
			return false, time.Since(start), nil
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return false, time.Since(start), err
		}
	}
}
