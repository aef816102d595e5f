package media

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	discussionv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/discussion/v1"
	mediapeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/peer/v1"
	mediav1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/v1"
	notificationpeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/peer/v1"
	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
)

// events returns the events of the given type waiting in the outbox.
func (e *env) events(t *testing.T, typ notificationv1.EventType) []*notificationpeerv1.Event {
	t.Helper()
	rows, err := e.svc.db.QueryContext(t.Context(), `SELECT payload FROM outbox_messages ORDER BY create_us, seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []*notificationpeerv1.Event
	for rows.Next() {
		var payload []byte
		if err := rows.Scan(&payload); err != nil {
			t.Fatal(err)
		}
		ev := &notificationpeerv1.Event{}
		if err := proto.Unmarshal(payload, ev); err != nil {
			t.Fatal(err)
		}
		if ev.GetType() == typ {
			out = append(out, ev)
		}
	}
	return out
}

// wantViolation fails unless err is INVALID_ARGUMENT with a violation on field.
func wantViolation(t *testing.T, err error, field string) {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument {
		t.Fatalf("got %v, want INVALID_ARGUMENT on %s", err, field)
	}
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				if v.GetField() == field {
					return
				}
			}
		}
	}
	t.Fatalf("%v: no violation on %s", err, field)
}

func TestMediaDiscussion(t *testing.T) { onEachBackend(t, testMediaDiscussion) }

func testMediaDiscussion(t *testing.T, on backend) {
	e := newEnv(t, on, nil)
	carol, gina, mallory := e.as(t, "carol"), e.as(t, "gina"), e.as(t, "mallory")
	plain := readFile(t, "ingest/testdata/plain.jpg")
	it, err := e.upload(carol, &mediav1.UploadMetadata{Parent: child, Title: "Sports day", SizeBytes: int64(len(plain))}, plain, 1000)
	if err != nil {
		t.Fatal(err)
	}
	comment := func(ctx context.Context, parent, text string) (*discussionv1.Comment, error) {
		return e.client.CreateMediaComment(ctx, &mediav1.CreateMediaCommentRequest{Parent: parent, Comment: &discussionv1.Comment{Text: text}})
	}
	react := func(ctx context.Context, name string, kind discussionv1.ReactionKind) (*discussionv1.Reaction, error) {
		return e.client.SetMediaReaction(ctx, &mediav1.SetMediaReactionRequest{Reaction: &discussionv1.Reaction{Name: name, Kind: kind}})
	}

	byGina, err := comment(gina, it.GetName(), " What a jump! ")
	if err != nil || byGina.GetText() != "What a jump!" || byGina.GetAuthor() != "gina" {
		t.Fatalf("guardian's comment = %v, %v", byGina, err)
	}
	byCarol, err := comment(carol, it.GetName(), "She won")
	if err != nil {
		t.Fatal(err)
	}
	_, err = comment(gina, it.GetName(), "  ")
	wantViolation(t, err, "comment.text")
	_, err = comment(gina, it.GetName(), strings.Repeat("x", 1001))
	wantViolation(t, err, "comment.text")
	_, err = comment(gina, child+"/media/nope", "hi")
	wantCode(t, err, codes.NotFound, noReason)
	_, err = comment(mallory, it.GetName(), "hi")
	wantCode(t, err, codes.NotFound, noReason)
	_, err = e.client.ListMediaComments(mallory, &mediav1.ListMediaCommentsRequest{Parent: it.GetName()})
	wantCode(t, err, codes.NotFound, noReason)

	heart := discussionv1.ReactionKind_REACTION_KIND_HEART
	if _, err := react(gina, it.GetName()+"/reactions/me", heart); err != nil {
		t.Fatal(err)
	}
	if _, err := react(gina, it.GetName()+"/reactions/me", discussionv1.ReactionKind_REACTION_KIND_WOW); err != nil {
		t.Fatal(err)
	}
	_, err = react(gina, it.GetName()+"/reactions/carol", heart)
	wantCode(t, err, codes.PermissionDenied, noReason)
	_, err = react(gina, it.GetName()+"/reactions/me", 0)
	wantViolation(t, err, "reaction.kind")
	_, err = react(mallory, it.GetName()+"/reactions/me", heart)
	wantCode(t, err, codes.NotFound, noReason)

	comments := e.events(t, notificationv1.EventType_EVENT_TYPE_COMMENT_ADDED)
	reactions := e.events(t, notificationv1.EventType_EVENT_TYPE_REACTION_ADDED)
	if len(comments) != 2 || len(reactions) != 1 {
		t.Fatalf("%d COMMENT_ADDED, %d REACTION_ADDED events; want 2 and 1 (a replaced reaction is not announced)", len(comments), len(reactions))
	}
	if ev := reactions[0]; ev.GetActor() != "gina" || ev.GetLink() != it.GetName() || ev.GetAudience() != notificationpeerv1.Audience_AUDIENCE_OTHERS ||
		!strings.Contains(ev.GetTitle(), "Sports day") {
		t.Fatalf("reaction event = %v", ev)
	}

	got, err := e.client.GetMediaItem(gina, &mediav1.GetMediaItemRequest{Name: it.GetName()})
	want := &discussionv1.ReactionSummary{MyKind: discussionv1.ReactionKind_REACTION_KIND_WOW, CommentCount: 2,
		Counts: []*discussionv1.ReactionCount{{Kind: discussionv1.ReactionKind_REACTION_KIND_WOW, Count: 1}}}
	if err != nil || !proto.Equal(got.GetReactions(), want) {
		t.Fatalf("summary = %v, %v; want %v", got.GetReactions(), err, want)
	}
	list, err := e.client.ListMediaItems(carol, &mediav1.ListMediaItemsRequest{Parent: child})
	if err != nil || len(list.GetMediaItems()) != 1 || list.GetMediaItems()[0].GetReactions().GetMyKind() != 0 ||
		list.GetMediaItems()[0].GetReactions().GetCommentCount() != 2 {
		t.Fatalf("list = %v, %v", list, err)
	}

	// A guardian deletes only their own comments; a contributor any.
	_, err = e.client.DeleteMediaComment(gina, &mediav1.DeleteMediaCommentRequest{Name: byCarol.GetName()})
	wantCode(t, err, codes.PermissionDenied, noReason)
	if _, err := e.client.DeleteMediaComment(carol, &mediav1.DeleteMediaCommentRequest{Name: byGina.GetName()}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.DeleteMediaComment(carol, &mediav1.DeleteMediaCommentRequest{Name: byCarol.GetName()}); err != nil {
		t.Fatal(err)
	}
	left, err := e.client.ListMediaComments(gina, &mediav1.ListMediaCommentsRequest{Parent: it.GetName()})
	if err != nil || len(left.GetComments()) != 0 {
		t.Fatalf("comments left = %v, %v", left, err)
	}

	// Deleting the item deletes its conversation.
	if _, err := comment(gina, it.GetName(), "again"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.DeleteMediaItem(carol, &mediav1.DeleteMediaItemRequest{Name: it.GetName()}); err != nil {
		t.Fatal(err)
	}
	if n, m := e.rows(t, "media_comments", ""), e.rows(t, "media_reactions", ""); n != 0 || m != 0 {
		t.Fatalf("the deleted item left %d comments and %d reactions", n, m)
	}

	// So does progress's word that the child was deleted.
	other := readFile(t, "ingest/testdata/gps.jpg")
	it2, err := e.upload(carol, &mediav1.UploadMetadata{Parent: child, SizeBytes: int64(len(other))}, other, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := comment(gina, it2.GetName(), "lovely"); err != nil {
		t.Fatal(err)
	}
	if _, err := react(gina, it2.GetName()+"/reactions/me", heart); err != nil {
		t.Fatal(err)
	}
	if _, err := e.peer.DeleteChildData(e.asService(t, "progress"), &mediapeerv1.DeleteChildDataRequest{EventId: "ev-1", Child: child}); err != nil {
		t.Fatal(err)
	}
	if n, m := e.rows(t, "media_comments", ""), e.rows(t, "media_reactions", ""); n != 0 || m != 0 {
		t.Fatalf("the deleted child left %d comments and %d reactions", n, m)
	}
}

// TestMediaDraftConversationGoesToContributors: a comment or a reaction on
// a draft is announced to the child's contributors only, never to the
// guardians who may not see the draft (nor learn its title).
func TestMediaDraftConversationGoesToContributors(t *testing.T) {
	e := newApprovalEnv(t, true)
	it := e.uploadPhoto(t, "carol")
	if it.GetPublishState() != draftState {
		t.Fatalf("uploaded %v, want a draft", it)
	}
	if _, err := e.client.CreateMediaComment(e.as(t, "dan"), &mediav1.CreateMediaCommentRequest{Parent: it.GetName(),
		Comment: &discussionv1.Comment{Text: "nice"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.SetMediaReaction(e.as(t, "carol"), &mediav1.SetMediaReactionRequest{Reaction: &discussionv1.Reaction{
		Name: it.GetName() + "/reactions/me", Kind: discussionv1.ReactionKind_REACTION_KIND_HEART}}); err != nil {
		t.Fatal(err)
	}
	e.wantOutbox(t, it.GetName(), wantEvent{approvalRequested, "carol", contributors},
		wantEvent{notificationv1.EventType_EVENT_TYPE_COMMENT_ADDED, "dan", contributors},
		wantEvent{notificationv1.EventType_EVENT_TYPE_REACTION_ADDED, "carol", contributors})
}
