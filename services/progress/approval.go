package progress

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	notificationpeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/peer/v1"
	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
	"github.com/kinbridge/kinbridge/pkg/auth"
	"github.com/kinbridge/kinbridge/pkg/editors"
	"github.com/kinbridge/kinbridge/pkg/etag"
	"github.com/kinbridge/kinbridge/pkg/events"
	"github.com/kinbridge/kinbridge/pkg/names"
	"github.com/kinbridge/kinbridge/pkg/outbox"
	"github.com/kinbridge/kinbridge/pkg/validate"
	"github.com/kinbridge/kinbridge/services/progress/store"
)

// Approval before publishing, in one place:
//   - for a child with require_approval, what a contributor who is not an
//     administrator records is a draft; an administrator's is published
//     at once, as is everything recorded for other children;
//   - guardians never see drafts: lists leave them out, Get answers
//     NOT_FOUND (as for a record that does not exist), summaries never
//     count them (for anyone, so a cached summary serves every caller);
//     contributors and administrators see them with state DRAFT;
//   - another contributor of the child than the author, or an
//     administrator, approves a draft; the author gets PERMISSION_DENIED,
//     and a published record FAILED_PRECONDITION; the approval names the
//     etag it approves (INVALID_ARGUMENT without one), so that what is
//     published is what the approver read;
//   - a contributor's edit that changes a record of a child that requires
//     approval makes it a draft again (published, it disappears from the
//     guardians until approved again, and the other contributors are
//     asked, APPROVAL_REQUESTED); whoever edits a draft other than its
//     author may not approve it either (Approval.EditedBy), so guardians
//     only see what someone who did not write it approved. An
//     administrator's edit changes no state: they may approve anyway;
//   - a draft's creation tells the child's other contributors
//     (APPROVAL_REQUESTED, audience CONTRIBUTORS); the guardians' event
//     (ASSESSMENT_RECORDED, MILESTONE_ACHIEVED) goes out with the approval,
//     through the outbox in the approval's transaction;
//   - turning require_approval off publishes no draft: each still needs
//     its approval.

// authorizeAuthor checks that the caller may record for the child and
// says whether what they record is a draft.
func (s *server) authorizeAuthor(ctx context.Context, childID string) (auth.Principal, bool, error) {
	p, role, requireApproval, err := s.childAccess(ctx, childID)
	if err != nil {
		return p, false, err
	}
	if !p.Admin && role < store.RoleContributor {
		return p, false, status.Errorf(codes.PermissionDenied, "your role on children/%s does not allow this", childID)
	}
	return p, requireApproval && !p.Admin, nil
}

// authorizeReader checks that the caller may see the child and says
// whether they see its drafts.
func (s *server) authorizeReader(ctx context.Context, childID string) (seesDrafts bool, err error) {
	p, role, _, err := s.childAccess(ctx, childID)
	if err != nil {
		return false, err
	}
	return p.Admin || role >= store.RoleContributor, nil
}

// childAccess is authorizeChild's lookup with the child's require_approval:
// NOT_FOUND for a child the caller holds no role on.
func (s *server) childAccess(ctx context.Context, childID string) (auth.Principal, store.Role, bool, error) {
	p, err := caller(ctx)
	if err != nil {
		return p, store.RoleNone, false, err
	}
	role, exists, requireApproval, err := s.store.Access(ctx, childID, p.Subject)
	if err != nil {
		return p, store.RoleNone, false, storeError(err, "child")
	}
	if !exists || (!p.Admin && role == store.RoleNone) {
		return p, store.RoleNone, false, childNotFound(childID)
	}
	return p, role, requireApproval, nil
}

// afterEdit sets the approval of a record p has just changed, author's,
// for a child where what p records is a draft (authorizeAuthor's draft):
// it is a draft again, and an editor who is not its author may not
// approve it. A draft stays one whoever edits it, and an administrator's
// edit changes nothing, as they approve anyway.
func afterEdit(a *store.Approval, p auth.Principal, draft bool, author string) {
	if p.Admin {
		return
	}
	if draft {
		a.State = store.Draft
	}
	if a.State == store.Draft && p.Subject != author {
		a.EditedBy = editors.Add(a.EditedBy, p.Subject)
	}
}

// redrafted reports whether an edit turned a published record back into
// a draft, which then needs its approval requested.
func redrafted(before, after store.Approval) bool {
	return before.State == store.Published && after.State == store.Draft
}

// publishState is the state of a record as created.
func publishState(draft bool) store.PublishState {
	if draft {
		return store.Draft
	}
	return store.Published
}

// listState is the state filter of a listing: what was asked for, and
// only published records for a caller who does not see drafts (none at
// all when they asked for drafts).
func listState(seesDrafts bool, asked progressv1.PublishState) (state store.PublishState, none bool) {
	switch {
	case seesDrafts:
		return store.PublishState(asked), false
	case asked == progressv1.PublishState_PUBLISH_STATE_DRAFT:
		return 0, true
	}
	return store.Published, false
}

// hidden reports whether a record in state is hidden from the caller: a
// draft to someone who does not see drafts.
func hidden(seesDrafts bool, a store.Approval) bool {
	return !seesDrafts && a.State == store.Draft
}

// approvalFields are a record's approval as the contract has them.
func approvalFields(a store.Approval) (progressv1.PublishState, string, *timestamppb.Timestamp) {
	var at *timestamppb.Timestamp
	if !a.ApproveTime.IsZero() {
		at = timestamppb.New(a.ApproveTime)
	}
	return progressv1.PublishState(a.State), a.ApprovedBy, at
}

// recordEvent is the outbox message of an event about a child's record,
// naming its author as the actor (the approver's call publishes the
// author's record), for audience.
func recordEvent(typ notificationv1.EventType, childID, title, body, link, author string, audience notificationpeerv1.Audience) outbox.Message {
	return events.Message(&notificationpeerv1.Event{
		Type:      typ,
		Child:     names.Child{ID: childID}.String(),
		Title:     title,
		Body:      body,
		Link:      link,
		OccurTime: timestamppb.Now(),
		Actor:     author,
		Audience:  audience,
	})
}

// assessmentBody is an assessment's line in a notification: its title and
// score.
func assessmentBody(a store.Assessment) string {
	body := a.Title
	switch a.Score.Kind {
	case store.ScoredPoints:
		body += fmt.Sprintf(": %g/%g", a.Score.Earned, a.Score.Possible)
	case store.ScoredLetter:
		body += ": " + a.Score.Letter
	}
	return body
}

// assessmentEvent announces an assessment: to the guardians when it is
// published, to the other contributors when it is a draft.
func assessmentEvent(a store.Assessment) outbox.Message {
	return assessmentEventBy(a, a.RecordedBy)
}

// assessmentEventBy is assessmentEvent naming actor, who may have edited
// the assessment rather than recorded it.
func assessmentEventBy(a store.Assessment, actor string) outbox.Message {
	link := names.Assessment{Child: a.ChildID, ID: a.ID}.String()
	if a.State == store.Draft {
		return recordEvent(notificationv1.EventType_EVENT_TYPE_APPROVAL_REQUESTED, a.ChildID,
			"Approval requested: assessment in "+a.Subject, assessmentBody(a), link, actor,
			notificationpeerv1.Audience_AUDIENCE_CONTRIBUTORS)
	}
	return recordEvent(notificationv1.EventType_EVENT_TYPE_ASSESSMENT_RECORDED, a.ChildID,
		"New assessment in "+a.Subject, assessmentBody(a), link, actor, notificationpeerv1.Audience_AUDIENCE_UNSPECIFIED)
}

// milestoneEvent announces a milestone as assessmentEvent does an
// assessment.
func milestoneEvent(m store.Milestone) outbox.Message {
	return milestoneEventBy(m, m.RecordedBy)
}

// milestoneEventBy is milestoneEvent naming actor.
func milestoneEventBy(m store.Milestone, actor string) outbox.Message {
	link := names.Milestone{Child: m.ChildID, ID: m.ID}.String()
	if m.State == store.Draft {
		return recordEvent(notificationv1.EventType_EVENT_TYPE_APPROVAL_REQUESTED, m.ChildID,
			"Approval requested: milestone", m.Title, link, actor, notificationpeerv1.Audience_AUDIENCE_CONTRIBUTORS)
	}
	return recordEvent(notificationv1.EventType_EVENT_TYPE_MILESTONE_ACHIEVED, m.ChildID,
		"New milestone", m.Title, link, actor, notificationpeerv1.Audience_AUDIENCE_UNSPECIFIED)
}

// approver checks an approval of the record named name before it is made:
// the etag (required: the approver approves what they read), the caller a
// contributor of the child (or an administrator), and neither the record's
// author nor anyone who edited it since its approval (read by writers):
// another contributor or an administrator approves it. It returns the
// caller and the revision the etag names.
func (s *server) approver(ctx context.Context, name, childID, etagValue string,
	writers func(context.Context) (store.Approval, string, error)) (auth.Principal, int64, error) {
	if etagValue == "" {
		return auth.Principal{}, 0, validate.InvalidArgument(validate.Field{Path: "etag", Description: "is required: the etag of the version you approve"})
	}
	rev, err := etag.Revision("etag", etagValue)
	if err != nil {
		return auth.Principal{}, 0, err
	}
	p, err := s.authorizeChild(ctx, childID, store.RoleContributor)
	if err != nil {
		return auth.Principal{}, 0, err
	}
	approval, recordedBy, err := writers(ctx)
	if err != nil {
		return auth.Principal{}, 0, storeError(err, name)
	}
	if !p.Admin && p.Subject == recordedBy {
		return auth.Principal{}, 0, status.Errorf(codes.PermissionDenied, "%s was recorded by you: another contributor or an administrator approves it", name)
	}
	if !p.Admin && editors.Has(approval.EditedBy, p.Subject) {
		return auth.Principal{}, 0, status.Errorf(codes.PermissionDenied, "%s was edited by you: another contributor or an administrator approves it", name)
	}
	return p, rev, nil
}

// approvalError maps an approval's store error: a published record is
// FAILED_PRECONDITION with a PreconditionFailure naming it.
func approvalError(err error, name string) error {
	if !errors.Is(err, store.ErrAlreadyPublished) {
		return storeError(err, name)
	}
	st := status.Newf(codes.FailedPrecondition, "%s is published already", name)
	if withDetails, derr := st.WithDetails(&errdetails.PreconditionFailure{Violations: []*errdetails.PreconditionFailure_Violation{{
		Type: "STATE", Subject: name, Description: "is not a draft: there is nothing to approve",
	}}}); derr == nil {
		st = withDetails
	}
	return st.Err()
}

// ApproveAssessment publishes a draft assessment and tells the guardians.
func (s *server) ApproveAssessment(ctx context.Context, req *progressv1.ApproveAssessmentRequest) (*progressv1.Assessment, error) {
	rn, err := validate.Name("name", req.GetName(), names.ParseAssessment)
	if err != nil {
		return nil, err
	}
	childID, id := rn.Child, rn.ID
	p, rev, err := s.approver(ctx, req.GetName(), childID, req.GetEtag(), func(ctx context.Context) (store.Approval, string, error) {
		a, err := s.store.GetAssessment(ctx, childID, id)
		return a.Approval, a.RecordedBy, err
	})
	if err != nil {
		return nil, err
	}
	a, err := s.store.ApproveAssessment(ctx, childID, id, p.Subject, rev, func(a store.Assessment) []outbox.Message {
		return []outbox.Message{assessmentEvent(a)}
	})
	if err != nil {
		return nil, approvalError(err, req.GetName())
	}
	s.notify()
	scale, _, _, err := s.scale(ctx, childID)
	if err != nil {
		return nil, err
	}
	out := assessmentToProto(a, scale)
	s.assessmentReactions(ctx, childID, out)
	return out, nil
}

// ApproveMilestone publishes a draft milestone and tells the guardians.
func (s *server) ApproveMilestone(ctx context.Context, req *progressv1.ApproveMilestoneRequest) (*progressv1.Milestone, error) {
	rn, err := validate.Name("name", req.GetName(), names.ParseMilestone)
	if err != nil {
		return nil, err
	}
	childID, id := rn.Child, rn.ID
	p, rev, err := s.approver(ctx, req.GetName(), childID, req.GetEtag(), func(ctx context.Context) (store.Approval, string, error) {
		m, err := s.store.GetMilestone(ctx, childID, id)
		return m.Approval, m.RecordedBy, err
	})
	if err != nil {
		return nil, err
	}
	m, err := s.store.ApproveMilestone(ctx, childID, id, p.Subject, rev, func(m store.Milestone) []outbox.Message {
		return []outbox.Message{milestoneEvent(m)}
	})
	if err != nil {
		return nil, approvalError(err, req.GetName())
	}
	s.notify()
	out := milestoneToProto(m)
	s.milestoneReactions(ctx, childID, out)
	return out, nil
}
