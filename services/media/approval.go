package media

import (
	"context"
	"errors"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	mediav1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/v1"
	notificationpeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/peer/v1"
	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
	progresspeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/peer/v1"
	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
	"github.com/kinbridge/kinbridge/pkg/access"
	"github.com/kinbridge/kinbridge/pkg/auth"
	"github.com/kinbridge/kinbridge/pkg/editors"
	"github.com/kinbridge/kinbridge/pkg/etag"
	"github.com/kinbridge/kinbridge/pkg/events"
	"github.com/kinbridge/kinbridge/pkg/names"
	"github.com/kinbridge/kinbridge/pkg/outbox"
	"github.com/kinbridge/kinbridge/pkg/validate"
	"github.com/kinbridge/kinbridge/services/media/store"
)

// Approval before publishing, as progress has it for assessments and
// milestones (services/progress/approval.go), for media items:
//   - an upload by a contributor who is not an administrator, for a child
//     that requires approval (progress says so with its access answer,
//     CheckAccessResponse.approval_required), becomes a draft item;
//   - guardians never see drafts: lists leave them out, and the item, its
//     content and its thumbnails answer NOT_FOUND (the gateway's downloads,
//     ranged or not, read through GetMediaItem and ReadMediaContent with
//     the user's token, so they answer 404 alike); contributors and
//     administrators see them with publish_state DRAFT;
//   - another contributor than the uploader, or an administrator, approves
//     a draft; the uploader gets PERMISSION_DENIED, a published item
//     FAILED_PRECONDITION; the approval names the etag it approves
//     (INVALID_ARGUMENT without one);
//   - a contributor's change of the title, caption or kind of an item of a
//     child that requires approval makes it a draft again (published, it
//     disappears from the guardians until approved again, and the other
//     contributors are asked once it is processed); whoever edits a draft
//     other than its uploader may not approve it either
//     (Approval.EditedBy). An administrator's edit changes no state;
//   - when processing ends, a published item is announced to the guardians
//     (MEDIA_READY) and a draft to the child's other contributors
//     (APPROVAL_REQUESTED, audience CONTRIBUTORS); an approval announces
//     MEDIA_READY in its transaction when the item is processed, and leaves
//     it to the end of processing otherwise. Both are compare-and-sets on
//     the item's revision, so exactly one of them sends it.

// grant asks the checker whether the caller may do perm on the child,
// and what they hold there.
func (s *Service) grant(ctx context.Context, childID string, perm progresspeerv1.Permission) (auth.Principal, access.Grant, error) {
	p, err := caller(ctx)
	if err != nil {
		return p, access.Grant{}, err
	}
	g, err := s.cfg.Access.Grant(ctx, p, names.Child{ID: childID}.String(), perm)
	return p, g, err
}

// uploadState is the publish state of what p uploads for the child: a
// draft when the child requires approval, unless p is an administrator.
func (s *Service) uploadState(ctx context.Context, p auth.Principal, childID string) (store.PublishState, error) {
	_, g, err := s.grant(ctx, childID, contribute)
	if err != nil {
		return 0, err
	}
	if g.ApprovalRequired && !p.Admin {
		return store.Draft, nil
	}
	return store.Published, nil
}

// afterEdit sets the approval of an item p has just changed, uploaded by
// uploader, for a child that may require approval: a contributor's edit
// makes it a draft again, and an editor who is not its uploader may not
// approve it. A draft stays one whoever edits it, and an administrator's
// edit changes nothing, as they approve anyway.
func afterEdit(a *store.Approval, p auth.Principal, approvalRequired bool, uploader string) {
	if p.Admin {
		return
	}
	if approvalRequired {
		a.PublishState = store.Draft
	}
	if a.PublishState == store.Draft && p.Subject != uploader {
		a.EditedBy = editors.Add(a.EditedBy, p.Subject)
	}
}

// redraftedEvents announces an edit by editor that made a processed,
// published item a draft again to the other contributors; an item still
// processing is announced when processing ends.
func redraftedEvents(editor string) func(before, after store.Item) []outbox.Message {
	return func(before, after store.Item) []outbox.Message {
		if before.PublishState != store.Published || after.PublishState != store.Draft || after.State != store.StateReady {
			return nil
		}
		return []outbox.Message{approvalRequestedEventBy(after, editor)}
	}
}

// hidden reports whether an item is hidden from a caller holding g: a
// draft from someone who does not see drafts.
func hidden(g access.Grant, it store.Item) bool {
	return !g.SeesDrafts && it.PublishState == store.Draft
}

// listState is the publish-state filter of a listing: what was asked for,
// and only published items for a caller who does not see drafts (none at
// all when they asked for drafts).
func listState(g access.Grant, asked progressv1.PublishState) (state store.PublishState, none bool) {
	switch {
	case g.SeesDrafts:
		return store.PublishState(asked), false
	case asked == progressv1.PublishState_PUBLISH_STATE_DRAFT:
		return 0, true
	}
	return store.Published, false
}

// setApproval puts an item's approval into its contract form.
func setApproval(out *mediav1.MediaItem, a store.Approval) {
	out.PublishState = progressv1.PublishState(a.PublishState)
	out.ApprovedBy = a.ApprovedBy
	if !a.ApproveTime.IsZero() {
		out.ApproveTime = timestamppb.New(a.ApproveTime)
	}
}

// processedEvents announces an item whose processing has just ended, as
// stored: READY and published to the guardians, READY and a draft to the
// other contributors; a FAILED item to no one.
func processedEvents(it store.Item) []outbox.Message {
	switch {
	case it.State != store.StateReady:
		return nil
	case it.PublishState == store.Draft:
		return []outbox.Message{approvalRequestedEvent(it)}
	}
	return []outbox.Message{readyEvent(it)}
}

// approvedEvents announces an item just approved: to the guardians when it
// is processed; otherwise the end of processing will.
func approvedEvents(it store.Item) []outbox.Message {
	if it.State != store.StateReady {
		return nil
	}
	return []outbox.Message{readyEvent(it)}
}

// approvalRequestedEvent tells the child's other contributors that a draft
// awaits their approval.
func approvalRequestedEvent(it store.Item) outbox.Message {
	return approvalRequestedEventBy(it, it.UploadedBy)
}

// approvalRequestedEventBy is approvalRequestedEvent naming actor, who may
// have edited the item rather than uploaded it.
func approvalRequestedEventBy(it store.Item, actor string) outbox.Message {
	m := events.Message(&notificationpeerv1.Event{
		Type:      notificationv1.EventType_EVENT_TYPE_APPROVAL_REQUESTED,
		Child:     names.Child{ID: it.ChildID}.String(),
		Title:     "Approval requested: " + itemWhat(it),
		Body:      it.Caption,
		Link:      names.MediaItem{Child: it.ChildID, ID: it.ID}.String(),
		OccurTime: timestamppb.Now(),
		Actor:     actor,
		Audience:  notificationpeerv1.Audience_AUDIENCE_CONTRIBUTORS,
	})
	return m
}

// approveItem publishes a draft item of child as approved by the caller.
func (s *Service) approveItem(ctx context.Context, child, id string, rev int64) (store.Item, error) {
	name := names.MediaItem{Child: child, ID: id}.String()
	p, _, err := s.grant(ctx, child, contribute)
	if err != nil {
		return store.Item{}, err
	}
	cur, err := s.store.GetItem(ctx, child, id)
	if err != nil {
		return store.Item{}, storeError(err, name)
	}
	if !p.Admin && p.Subject == cur.UploadedBy {
		return store.Item{}, status.Errorf(codes.PermissionDenied, "%s was uploaded by you: another contributor or an administrator approves it", name)
	}
	if !p.Admin && editors.Has(cur.EditedBy, p.Subject) {
		return store.Item{}, status.Errorf(codes.PermissionDenied, "%s was edited by you: another contributor or an administrator approves it", name)
	}
	it, err := s.store.ApproveItem(ctx, child, id, p.Subject, rev, approvedEvents)
	if errors.Is(err, store.ErrAlreadyPublished) {
		return store.Item{}, alreadyPublished(name)
	}
	if err != nil {
		return store.Item{}, storeError(err, name)
	}
	s.notify()
	return it, nil
}

// alreadyPublished is the FAILED_PRECONDITION of approving a published
// item, with a PreconditionFailure naming it.
func alreadyPublished(name string) error {
	st := status.Newf(codes.FailedPrecondition, "%s is published already", name)
	if withDetails, err := st.WithDetails(&errdetails.PreconditionFailure{Violations: []*errdetails.PreconditionFailure_Violation{{
		Type: "STATE", Subject: name, Description: "is not a draft: there is nothing to approve",
	}}}); err == nil {
		st = withDetails
	}
	return st.Err()
}

// ApproveMediaItem publishes a draft item.
func (s *server) ApproveMediaItem(ctx context.Context, req *mediav1.ApproveMediaItemRequest) (*mediav1.MediaItem, error) {
	rn, err := validate.Name("name", req.GetName(), names.ParseMediaItem)
	if err != nil {
		return nil, err
	}
	// The approver approves what they read: an approval without its etag
	// might publish an edit made since.
	if req.GetEtag() == "" {
		return nil, validate.InvalidArgument(validate.Field{Path: "etag", Description: "is required: the etag of the version you approve"})
	}
	rev, err := etag.Revision("etag", req.GetEtag())
	if err != nil {
		return nil, err
	}
	it, err := s.svc.approveItem(ctx, rn.Child, rn.ID, rev)
	if err != nil {
		return nil, err
	}
	out := itemToProto(it)
	s.svc.withReactions(ctx, rn.Child, out)
	return out, nil
}
