package discussion

import (
	"context"
	"errors"
	"log/slog"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	discussionv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/discussion/v1"
	notificationpeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/peer/v1"
	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
	"github.com/kinbridge/kinbridge/pkg/auth"
	"github.com/kinbridge/kinbridge/pkg/events"
	"github.com/kinbridge/kinbridge/pkg/names"
	"github.com/kinbridge/kinbridge/pkg/outbox"
	"github.com/kinbridge/kinbridge/pkg/pagetoken"
	"github.com/kinbridge/kinbridge/pkg/validate"
)

// Access is what the item's service decides about the caller and a child,
// with the service's own statuses.
type Access interface {
	// View returns the caller when they may see the child (any guardian
	// or contributor, administrators): who may read, comment and react.
	// A child the caller may not see is NOT_FOUND.
	View(ctx context.Context, childID string) (auth.Principal, error)
	// Contribute answers nil when the caller may record for the child
	// (contributors, administrators), PERMISSION_DENIED otherwise: who
	// may delete anybody's comment.
	Contribute(ctx context.Context, childID string) error
}

// Item is what the conversation methods need of an item.
type Item struct {
	Title string
	// Draft is true for an item awaiting approval, which guardians do not see.
	Draft bool
}

// Handler serves the conversation methods of one service over its
// collections. The service parses and checks the names (validate.Name
// with the parsers of this package) and calls it.
type Handler struct {
	Access Access
	// Stores keeps each collection's conversations, by collection.
	Stores map[string]*Store
	// Title returns an item's title for the notifications and whether it
	// is a draft awaiting approval, or an error (NOT_FOUND for a missing
	// item; ErrNotFound works too). It is also where a service hides
	// items from callers who may not see them. A draft's conversation is
	// announced to the child's contributors only: guardians may not learn
	// of a draft, not even its title.
	Title func(ctx context.Context, item Ref) (Item, error)
	// Notify wakes the service's outbox relay after an event committed.
	Notify func()
	Logger *slog.Logger
}

func (h *Handler) store(item Ref) (*Store, error) {
	st, ok := h.Stores[item.Collection]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "%s not found", item)
	}
	return st, nil
}

// storeError maps the store's errors to statuses; what names the resource.
func (h *Handler) storeError(ctx context.Context, err error, what string) error {
	var st interface{ GRPCStatus() *status.Status }
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNotFound):
		return status.Errorf(codes.NotFound, "%s not found", what)
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "request canceled")
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "deadline exceeded")
	case errors.As(err, &st):
		return err
	}
	if h.Logger != nil {
		h.Logger.ErrorContext(ctx, "discussion: storage", "what", what, "err", err)
	}
	return status.Error(codes.Internal, "storage error")
}

// open checks the caller may see the child and the item exists, and
// returns the caller, the item's store and the item.
func (h *Handler) open(ctx context.Context, item Ref) (auth.Principal, *Store, Item, error) {
	p, err := h.Access.View(ctx, item.Child)
	if err != nil {
		return p, nil, Item{}, err
	}
	st, err := h.store(item)
	if err != nil {
		return p, nil, Item{}, err
	}
	it, err := h.Title(ctx, item)
	if err != nil {
		return p, nil, Item{}, h.storeError(ctx, err, item.String())
	}
	return p, st, it, nil
}

// event is the outbox message announcing a change to the item's
// conversation to everyone who may see the child but the actor; for a
// draft, to the child's contributors but the actor (guardians do not see
// drafts, so they must not hear of their conversation either).
func event(p auth.Principal, typ notificationv1.EventType, item Ref, it Item, title, body string) outbox.Message {
	audience := notificationpeerv1.Audience_AUDIENCE_OTHERS
	if it.Draft {
		audience = notificationpeerv1.Audience_AUDIENCE_CONTRIBUTORS
	}
	return events.Message(&notificationpeerv1.Event{
		Type:      typ,
		Child:     names.Child{ID: item.Child}.String(),
		Title:     clip(title, 200),
		Body:      clip(body, 2000),
		Link:      item.String(),
		OccurTime: timestamppb.Now(),
		Actor:     p.Subject,
		Audience:  audience,
	})
}

// clip cuts s to at most n characters.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// CommentNotice is the body of every COMMENT_ADDED notification.
const CommentNotice = "Open it to read the comment."

// quoted is an item's title as notifications quote it.
func quoted(title string) string {
	if title == "" {
		return "an item"
	}
	return "“" + clip(title, 150) + "”"
}

func (h *Handler) notify() {
	if h.Notify != nil {
		h.Notify()
	}
}

// CreateComment adds a comment by the caller to the item.
func (h *Handler) CreateComment(ctx context.Context, item Ref, text string) (*discussionv1.Comment, error) {
	t, bad := CheckText("comment.text", text)
	if bad != nil {
		return nil, validate.InvalidArgument(*bad)
	}
	p, st, it, err := h.open(ctx, item)
	if err != nil {
		return nil, err
	}
	// The notification does not quote the comment: inboxes and digests
	// would keep the text after the comment is deleted (a comment removed
	// by a contributor must be gone for everyone). The item shows it.
	ev := event(p, notificationv1.EventType_EVENT_TYPE_COMMENT_ADDED, item, it, "New comment on "+quoted(it.Title), CommentNotice)
	c, err := st.AddComment(ctx, Comment{ChildID: item.Child, ItemID: item.ID, Author: p.Subject, Text: t}, ev)
	if err != nil {
		return nil, h.storeError(ctx, err, item.String())
	}
	h.notify()
	return CommentProto(item, c), nil
}

// ListComments returns a page of the item's comments, oldest first.
func (h *Handler) ListComments(ctx context.Context, item Ref, pageSize int32, pageToken string) (*discussionv1.ListCommentsResponse, error) {
	listing := "comments:" + item.String()
	var after CommentCursor
	more, err := pagetoken.Decode(pageToken, listing, &after)
	if err != nil {
		return nil, err
	}
	_, st, _, err := h.open(ctx, item)
	if err != nil {
		return nil, err
	}
	var cur *CommentCursor
	if more {
		cur = &after
	}
	limit := pagetoken.Size(pageSize)
	rows, err := st.ListComments(ctx, item.Child, item.ID, cur, limit+1)
	if err != nil {
		return nil, h.storeError(ctx, err, item.String())
	}
	resp := &discussionv1.ListCommentsResponse{}
	if len(rows) > limit {
		rows = rows[:limit]
		last := rows[len(rows)-1]
		resp.NextPageToken = pagetoken.Encode(listing, CommentCursor{CreateTime: last.CreateTime.UnixMicro(), ID: last.ID})
	}
	for _, c := range rows {
		resp.Comments = append(resp.Comments, CommentProto(item, c))
	}
	return resp, nil
}

// DeleteComment deletes a comment: its author, contributors of the child
// and administrators may.
func (h *Handler) DeleteComment(ctx context.Context, n CommentName) error {
	p, err := h.Access.View(ctx, n.Item.Child)
	if err != nil {
		return err
	}
	st, err := h.store(n.Item)
	if err != nil {
		return err
	}
	if _, err := h.Title(ctx, n.Item); err != nil {
		return h.storeError(ctx, err, n.String())
	}
	c, err := st.GetComment(ctx, n.Item.Child, n.Item.ID, n.ID)
	if err != nil {
		return h.storeError(ctx, err, n.String())
	}
	if c.Author != p.Subject && !p.Admin {
		if err := h.Access.Contribute(ctx, n.Item.Child); err != nil {
			if status.Code(err) == codes.PermissionDenied {
				return status.Errorf(codes.PermissionDenied, "only its author, contributors of the child and administrators may delete %s", n)
			}
			return err
		}
	}
	return h.storeError(ctx, st.DeleteComment(ctx, n.Item.Child, n.Item.ID, n.ID), n.String())
}

// self checks that a reaction's {user} is the caller (`me` or their id).
func self(p auth.Principal, n ReactionName) error {
	if n.User != names.Me && n.User != p.Subject {
		return status.Errorf(codes.PermissionDenied, "you may set and delete only your own reaction (%s)", ReactionName{Item: n.Item, User: names.Me})
	}
	return nil
}

// SetReaction sets the caller's reaction to the item. Only a user's first
// reaction to an item is announced.
func (h *Handler) SetReaction(ctx context.Context, n ReactionName, kind discussionv1.ReactionKind) (*discussionv1.Reaction, error) {
	k, bad := CheckKind("reaction.kind", kind)
	if bad != nil {
		return nil, validate.InvalidArgument(*bad)
	}
	p, st, it, err := h.open(ctx, n.Item)
	if err != nil {
		return nil, err
	}
	if err := self(p, n); err != nil {
		return nil, err
	}
	ev := event(p, notificationv1.EventType_EVENT_TYPE_REACTION_ADDED, n.Item, it, "New reaction to "+quoted(it.Title), Emoji(k))
	r, first, err := st.SetReaction(ctx, Reaction{ChildID: n.Item.Child, ItemID: n.Item.ID, User: p.Subject, Kind: k}, ev)
	if err != nil {
		return nil, h.storeError(ctx, err, n.Item.String())
	}
	if first {
		h.notify()
	}
	return ReactionProto(n.Item, r), nil
}

// DeleteReaction removes the caller's reaction to the item.
func (h *Handler) DeleteReaction(ctx context.Context, n ReactionName) error {
	p, st, _, err := h.open(ctx, n.Item)
	if err != nil {
		return err
	}
	if err := self(p, n); err != nil {
		return err
	}
	return h.storeError(ctx, st.DeleteReaction(ctx, n.Item.Child, n.Item.ID, p.Subject), ReactionName{Item: n.Item, User: p.Subject}.String())
}

// reactionCursor is the position after a page of reactions.
type reactionCursor struct {
	AfterUser string `json:"u"`
}

// ListReactions returns a page of the item's reactions by user, with the
// summary of them all.
func (h *Handler) ListReactions(ctx context.Context, item Ref, pageSize int32, pageToken string) (*discussionv1.ListReactionsResponse, error) {
	listing := "reactions:" + item.String()
	var after reactionCursor
	if _, err := pagetoken.Decode(pageToken, listing, &after); err != nil {
		return nil, err
	}
	p, st, _, err := h.open(ctx, item)
	if err != nil {
		return nil, err
	}
	limit := pagetoken.Size(pageSize)
	rows, err := st.ListReactions(ctx, item.Child, item.ID, after.AfterUser, limit+1)
	if err != nil {
		return nil, h.storeError(ctx, err, item.String())
	}
	sums, err := st.Summaries(ctx, item.Child, []string{item.ID}, p.Subject)
	if err != nil {
		return nil, h.storeError(ctx, err, item.String())
	}
	resp := &discussionv1.ListReactionsResponse{Summary: SummaryProto(sums[item.ID])}
	if len(rows) > limit {
		rows = rows[:limit]
		resp.NextPageToken = pagetoken.Encode(listing, reactionCursor{AfterUser: rows[len(rows)-1].User})
	}
	for _, r := range rows {
		resp.Reactions = append(resp.Reactions, ReactionProto(item, r))
	}
	return resp, nil
}

// Summaries returns the summaries of a child's items of one collection as
// the caller sees them, by item id; an item nobody reacted to or
// commented on has none. The caller has checked the caller may see the
// child.
func (h *Handler) Summaries(ctx context.Context, collection, childID string, itemIDs []string) (map[string]*discussionv1.ReactionSummary, error) {
	st, ok := h.Stores[collection]
	if !ok || len(itemIDs) == 0 {
		return map[string]*discussionv1.ReactionSummary{}, nil
	}
	p, _ := auth.FromContext(ctx)
	sums, err := st.Summaries(ctx, childID, itemIDs, p.Subject)
	if err != nil {
		return nil, h.storeError(ctx, err, "reactions")
	}
	out := make(map[string]*discussionv1.ReactionSummary, len(sums))
	for id, s := range sums {
		if s != (Summary{}) { // nothing said about the item: no summary
			out[id] = SummaryProto(s)
		}
	}
	return out, nil
}
