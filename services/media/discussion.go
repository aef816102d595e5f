package media

import (
	"context"
	"strings"

	"google.golang.org/protobuf/types/known/emptypb"

	discussionv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/discussion/v1"
	mediav1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/v1"
	"github.com/kinbridge/kinbridge/pkg/auth"
	"github.com/kinbridge/kinbridge/pkg/discussion"
	"github.com/kinbridge/kinbridge/pkg/names"
	"github.com/kinbridge/kinbridge/pkg/validate"
	"github.com/kinbridge/kinbridge/services/media/store"
)

// Comments and reactions on media items. media keeps them in its own
// database (migration 0007), each row referencing its item with ON DELETE
// CASCADE: deleting the item, or a child's items when progress says the
// child was deleted (DeleteChildData), deletes the conversation in the
// same transaction. pkg/discussion has the rules and the SQL, shared with
// progress.

// newDiscussion returns the handler of the conversation methods.
func (s *Service) newDiscussion() *discussion.Handler {
	return &discussion.Handler{
		Access: discussionAccess{s},
		Stores: map[string]*discussion.Store{
			discussion.Media: discussion.NewStore(s.db, discussion.Tables{Items: "media_items", Comments: "media_comments", Reactions: "media_reactions"}),
		},
		Title:  s.itemTitle,
		Notify: s.notify,
		Logger: s.cfg.Logger,
	}
}

// discussionAccess is media's access policy as pkg/discussion asks it:
// whoever may view the child may comment and react; contributors may also
// delete others' comments.
type discussionAccess struct{ s *Service }

func (a discussionAccess) View(ctx context.Context, childID string) (auth.Principal, error) {
	return a.s.authorize(ctx, childID, view)
}

func (a discussionAccess) Contribute(ctx context.Context, childID string) error {
	_, err := a.s.authorize(ctx, childID, contribute)
	return err
}

// itemTitle is an item's title for notifications, or what it is when it
// has none; NOT_FOUND when it does not exist or is a draft the caller may
// not see (approval.go): a guardian neither sees nor discusses a draft.
func (s *Service) itemTitle(ctx context.Context, item discussion.Ref) (discussion.Item, error) {
	it, err := s.item(ctx, item.Child, item.ID)
	if err != nil {
		return discussion.Item{}, err
	}
	draft := it.PublishState == store.Draft
	if it.Title != "" {
		return discussion.Item{Title: it.Title, Draft: draft}, nil
	}
	kind := strings.ToLower(strings.TrimPrefix(mediav1.MediaKind(it.Kind).String(), "MEDIA_KIND_"))
	if kind == "unspecified" {
		kind = "item"
	}
	return discussion.Item{Title: "the " + kind, Draft: draft}, nil
}

// withReactions fills in the reaction summaries of a child's items as the
// caller sees them. The caller may view the child. A failure leaves them
// out rather than failing the read.
func (s *Service) withReactions(ctx context.Context, childID string, out ...*mediav1.MediaItem) {
	if s.discussion == nil || len(out) == 0 {
		return
	}
	ids := make([]string, len(out))
	for i, it := range out {
		ids[i] = strings.TrimPrefix(it.GetName(), names.Child{ID: childID}.String()+"/media/")
	}
	sums, err := s.discussion.Summaries(ctx, discussion.Media, childID, ids)
	if err != nil {
		return
	}
	for i, id := range ids {
		out[i].Reactions = sums[id]
	}
}

var mediaItems = []string{discussion.Media}

// CreateMediaComment adds the caller's comment to an item.
func (s *server) CreateMediaComment(ctx context.Context, req *mediav1.CreateMediaCommentRequest) (*discussionv1.Comment, error) {
	item, err := validate.Name("parent", req.GetParent(), discussion.ItemParser(mediaItems...))
	if err != nil {
		return nil, err
	}
	return s.svc.discussion.CreateComment(ctx, item, req.GetComment().GetText())
}

// ListMediaComments lists an item's comments, oldest first.
func (s *server) ListMediaComments(ctx context.Context, req *mediav1.ListMediaCommentsRequest) (*discussionv1.ListCommentsResponse, error) {
	item, err := validate.Name("parent", req.GetParent(), discussion.ItemParser(mediaItems...))
	if err != nil {
		return nil, err
	}
	return s.svc.discussion.ListComments(ctx, item, req.GetPageSize(), req.GetPageToken())
}

// DeleteMediaComment deletes a comment (its author, contributors, administrators).
func (s *server) DeleteMediaComment(ctx context.Context, req *mediav1.DeleteMediaCommentRequest) (*emptypb.Empty, error) {
	n, err := validate.Name("name", req.GetName(), discussion.CommentParser(mediaItems...))
	if err != nil {
		return nil, err
	}
	if err := s.svc.discussion.DeleteComment(ctx, n); err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}

// SetMediaReaction sets the caller's reaction to an item.
func (s *server) SetMediaReaction(ctx context.Context, req *mediav1.SetMediaReactionRequest) (*discussionv1.Reaction, error) {
	n, err := validate.Name("reaction.name", req.GetReaction().GetName(), discussion.ReactionParser(mediaItems...))
	if err != nil {
		return nil, err
	}
	return s.svc.discussion.SetReaction(ctx, n, req.GetReaction().GetKind())
}

// DeleteMediaReaction removes the caller's reaction to an item.
func (s *server) DeleteMediaReaction(ctx context.Context, req *mediav1.DeleteMediaReactionRequest) (*emptypb.Empty, error) {
	n, err := validate.Name("name", req.GetName(), discussion.ReactionParser(mediaItems...))
	if err != nil {
		return nil, err
	}
	if err := s.svc.discussion.DeleteReaction(ctx, n); err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}

// ListMediaReactions lists an item's reactions with their counts.
func (s *server) ListMediaReactions(ctx context.Context, req *mediav1.ListMediaReactionsRequest) (*discussionv1.ListReactionsResponse, error) {
	item, err := validate.Name("parent", req.GetParent(), discussion.ItemParser(mediaItems...))
	if err != nil {
		return nil, err
	}
	return s.svc.discussion.ListReactions(ctx, item, req.GetPageSize(), req.GetPageToken())
}
