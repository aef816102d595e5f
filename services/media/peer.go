package media

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	mediapeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/peer/v1"
	"github.com/kinbridge/kinbridge/pkg/auth"
	"github.com/kinbridge/kinbridge/pkg/names"
	"github.com/kinbridge/kinbridge/pkg/validate"
)

// childDataCaller is the only service identity that may delete a child's
// data: progress, which owns children and calls from its outbox relay.
const childDataCaller = "progress"

// peerServer implements the service-only ChildDataService. The auth
// interceptor already refuses users on every peer package; this server
// also refuses services other than progress.
type peerServer struct {
	mediapeerv1.UnimplementedChildDataServiceServer
	svc *Service
}

// DeleteChildData deletes a child's items, ends its sessions and queued
// jobs, and leaves a tombstone, in one transaction; then it wakes the
// sweeper, which deletes the sessions' spooled bytes and every blob no
// other item uses. It succeeds once the transaction has committed: from
// there the bytes cannot be forgotten (a crash leaves them to the next
// sweep). A repeat is harmless, so the relay's retries are.
func (p *peerServer) DeleteChildData(ctx context.Context, req *mediapeerv1.DeleteChildDataRequest) (*mediapeerv1.DeleteChildDataResponse, error) {
	if caller, _ := auth.FromContext(ctx); caller.Service != childDataCaller {
		return nil, status.Errorf(codes.PermissionDenied, "only %s may delete a child's data", childDataCaller)
	}
	cn, err := validate.Name("child", req.GetChild(), names.ParseChild)
	if err != nil {
		return nil, err
	}
	childID := cn.ID
	d, err := p.svc.store.DeleteChild(ctx, childID, req.GetEventId())
	if err != nil {
		return nil, storeError(err, req.GetChild())
	}
	p.svc.deleted()
	if d.Fresh {
		p.svc.cfg.Logger.InfoContext(ctx, "media: child deleted", "child", req.GetChild(), "event", req.GetEventId(),
			"items", d.Items, "sessions", d.Sessions)
	}
	return &mediapeerv1.DeleteChildDataResponse{
		Accepted: d.Fresh, EventId: d.EventID, DeletedItemCount: int32(d.Items), EndedSessionCount: int32(d.Sessions),
	}, nil
}
