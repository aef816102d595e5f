package progress

import (
	"context"
	"log/slog"

	"google.golang.org/protobuf/types/known/emptypb"

	discussionv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/discussion/v1"
	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
	"github.com/kinbridge/kinbridge/pkg/auth"
	"github.com/kinbridge/kinbridge/pkg/discussion"
	"github.com/kinbridge/kinbridge/pkg/sqldb"
	"github.com/kinbridge/kinbridge/pkg/validate"
	"github.com/kinbridge/kinbridge/services/progress/store"
)

// Comments and reactions on assessments and milestones. progress keeps
// them in its own database (migration 0004), each row referencing its
// assessment or milestone with ON DELETE CASCADE: deleting the item, or
// the child (whose assessments and milestones cascade from it), deletes
// the conversation in the same transaction. pkg/discussion has the rules
// and the SQL, shared with media.

// progressItems are the collections whose items have conversations here.
var progressItems = []string{discussion.Assessments, discussion.Milestones}

// newDiscussion returns the handler of the conversation methods.
func newDiscussion(db *sqldb.DB, s *server, logger *slog.Logger) *discussion.Handler {
	return &discussion.Handler{
		Access: discussionAccess{s},
		Stores: map[string]*discussion.Store{
			discussion.Assessments: discussion.NewStore(db, discussion.Tables{Items: "assessments", Comments: "assessment_comments", Reactions: "assessment_reactions"}),
			discussion.Milestones:  discussion.NewStore(db, discussion.Tables{Items: "milestones", Comments: "milestone_comments", Reactions: "milestone_reactions"}),
		},
		Title:  s.itemTitle,
		Notify: func() { s.notify() },
		Logger: logger,
	}
}

// discussionAccess is progress's access policy as pkg/discussion asks it:
// any guardian may see (and so comment and react), contributors may also
// delete others' comments.
type discussionAccess struct{ s *server }

func (a discussionAccess) View(ctx context.Context, childID string) (auth.Principal, error) {
	return a.s.authorizeChild(ctx, childID, store.RoleGuardian)
}

func (a discussionAccess) Contribute(ctx context.Context, childID string) error {
	_, err := a.s.authorizeChild(ctx, childID, store.RoleContributor)
	return err
}

// itemTitle is the title of an assessment or a milestone, NOT_FOUND when
// it does not exist or is a draft the caller may not see (approval.go):
// a guardian neither reads nor discusses a draft, nor hears of a draft's
// conversation (discussion.Item.Draft).
func (s *server) itemTitle(ctx context.Context, item discussion.Ref) (discussion.Item, error) {
	seesDrafts, err := s.authorizeReader(ctx, item.Child)
	if err != nil {
		return discussion.Item{}, err
	}
	var title string
	var approval store.Approval
	if item.Collection == discussion.Milestones {
		m, gerr := s.store.GetMilestone(ctx, item.Child, item.ID)
		title, approval, err = m.Title, m.Approval, gerr
	} else {
		a, gerr := s.store.GetAssessment(ctx, item.Child, item.ID)
		title, approval, err = a.Title, a.Approval, gerr
	}
	if err == nil && hidden(seesDrafts, approval) {
		err = store.ErrNotFound
	}
	return discussion.Item{Title: title, Draft: approval.State == store.Draft}, storeError(err, item.String())
}

// withReactions fills in the reaction summaries of a child's assessments
// or milestones (collection) as the caller sees them. The caller may see
// the child. A failure leaves them out rather than failing the read.
func (s *server) withReactions(ctx context.Context, collection, childID string, ids []string, set func(i int, sum *discussionv1.ReactionSummary)) {
	if s.discussion == nil || len(ids) == 0 {
		return
	}
	sums, err := s.discussion.Summaries(ctx, collection, childID, ids)
	if err != nil {
		return
	}
	for i, id := range ids {
		set(i, sums[id])
	}
}

// assessmentReactions fills in the summaries of assessments of one child.
func (s *server) assessmentReactions(ctx context.Context, childID string, out ...*progressv1.Assessment) {
	ids := make([]string, len(out))
	for i, a := range out {
		ids[i] = a.GetName()[len("children/"+childID+"/assessments/"):]
	}
	s.withReactions(ctx, discussion.Assessments, childID, ids, func(i int, sum *discussionv1.ReactionSummary) { out[i].Reactions = sum })
}

// milestoneReactions fills in the summaries of milestones of one child.
func (s *server) milestoneReactions(ctx context.Context, childID string, out ...*progressv1.Milestone) {
	ids := make([]string, len(out))
	for i, m := range out {
		ids[i] = m.GetName()[len("children/"+childID+"/milestones/"):]
	}
	s.withReactions(ctx, discussion.Milestones, childID, ids, func(i int, sum *discussionv1.ReactionSummary) { out[i].Reactions = sum })
}

// CreateComment adds the caller's comment to an assessment or a milestone.
func (s *server) CreateComment(ctx context.Context, req *progressv1.CreateCommentRequest) (*discussionv1.Comment, error) {
	item, err := validate.Name("parent", req.GetParent(), discussion.ItemParser(progressItems...))
	if err != nil {
		return nil, err
	}
	return s.discussion.CreateComment(ctx, item, req.GetComment().GetText())
}

// ListComments lists an item's comments, oldest first.
func (s *server) ListComments(ctx context.Context, req *progressv1.ListCommentsRequest) (*discussionv1.ListCommentsResponse, error) {
	item, err := validate.Name("parent", req.GetParent(), discussion.ItemParser(progressItems...))
	if err != nil {
		return nil, err
	}
	return s.discussion.ListComments(ctx, item, req.GetPageSize(), req.GetPageToken())
}

// DeleteComment deletes a comment (its author, contributors, administrators).
func (s *server) DeleteComment(ctx context.Context, req *progressv1.DeleteCommentRequest) (*emptypb.Empty, error) {
	n, err := validate.Name("name", req.GetName(), discussion.CommentParser(progressItems...))
	if err != nil {
		return nil, err
	}
	if err := s.discussion.DeleteComment(ctx, n); err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}

// SetReaction sets the caller's reaction to an item.
func (s *server) SetReaction(ctx context.Context, req *progressv1.SetReactionRequest) (*discussionv1.Reaction, error) {
	n, err := validate.Name("reaction.name", req.GetReaction().GetName(), discussion.ReactionParser(progressItems...))
	if err != nil {
		return nil, err
	}
	return s.discussion.SetReaction(ctx, n, req.GetReaction().GetKind())
}

// DeleteReaction removes the caller's reaction to an item.
func (s *server) DeleteReaction(ctx context.Context, req *progressv1.DeleteReactionRequest) (*emptypb.Empty, error) {
	n, err := validate.Name("name", req.GetName(), discussion.ReactionParser(progressItems...))
	if err != nil {
		return nil, err
	}
	if err := s.discussion.DeleteReaction(ctx, n); err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}

// ListReactions lists an item's reactions with their counts.
func (s *server) ListReactions(ctx context.Context, req *progressv1.ListReactionsRequest) (*discussionv1.ListReactionsResponse, error) {
	item, err := validate.Name("parent", req.GetParent(), discussion.ItemParser(progressItems...))
	if err != nil {
		return nil, err
	}
	return s.discussion.ListReactions(ctx, item, req.GetPageSize(), req.GetPageToken())
}
