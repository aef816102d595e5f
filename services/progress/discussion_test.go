package progress

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	discussionv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/discussion/v1"
	notificationpeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/peer/v1"
	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
	"github.com/kinbridge/kinbridge/pkg/discussion"
)

// discussionFixture is a child with a teacher (contributor), two relatives
// (guardians), an assessment and a milestone; and a stranger, guardian of
// another child.
type discussionFixture struct {
	svc                          *Service
	s                            *server
	admin, teacher, mum, gran    context.Context
	stranger                     context.Context
	child, assessment, milestone string
}

func newDiscussionFixture(t *testing.T) *discussionFixture {
	t.Helper()
	svc, err := New(t.Context(), Config{DSN: "sqlite:" + filepath.Join(t.TempDir(), "progress.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	f := &discussionFixture{svc: svc, s: svc.server, admin: as(t.Context(), "root", true),
		teacher: as(t.Context(), "teacher", false), mum: as(t.Context(), "mum", false),
		gran: as(t.Context(), "gran", false), stranger: as(t.Context(), "olga", false)}
	child := func(name string, grants map[string]progressv1.Role) string {
		c, err := f.s.CreateChild(f.admin, &progressv1.CreateChildRequest{Child: &progressv1.Child{DisplayName: name}})
		if err != nil {
			t.Fatal(err)
		}
		for user, role := range grants {
			if _, err := f.s.CreateGuardianship(f.admin, &progressv1.CreateGuardianshipRequest{Parent: c.GetName(),
				Guardianship: &progressv1.Guardianship{User: user, Role: role}}); err != nil {
				t.Fatal(err)
			}
		}
		return c.GetName()
	}
	f.child = child("Ada", map[string]progressv1.Role{"teacher": progressv1.Role_ROLE_CONTRIBUTOR,
		"mum": progressv1.Role_ROLE_GUARDIAN, "gran": progressv1.Role_ROLE_GUARDIAN})
	child("Bo", map[string]progressv1.Role{"olga": progressv1.Role_ROLE_CONTRIBUTOR})
	a, err := f.s.CreateAssessment(f.teacher, &progressv1.CreateAssessmentRequest{Parent: f.child, Assessment: &progressv1.Assessment{
		Subject: "Math", Title: "Fractions quiz", Kind: progressv1.AssessmentKind_ASSESSMENT_KIND_TEST, AssessedDate: "2026-03-01"}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := f.s.CreateMilestone(f.teacher, &progressv1.CreateMilestoneRequest{Parent: f.child, Milestone: &progressv1.Milestone{
		Title: "Swam 25 m", AchievedDate: "2026-03-02"}})
	if err != nil {
		t.Fatal(err)
	}
	f.assessment, f.milestone = a.GetName(), m.GetName()
	return f
}

// events returns the events in the outbox of the given types, in order.
func (f *discussionFixture) events(t *testing.T, types ...notificationv1.EventType) []*notificationpeerv1.Event {
	t.Helper()
	rows, err := f.svc.db.QueryContext(t.Context(), `SELECT payload FROM outbox_messages ORDER BY create_us, seq`)
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
		for _, typ := range types {
			if ev.GetType() == typ {
				out = append(out, ev)
			}
		}
	}
	return out
}

// wantCode fails unless err has the code and, for INVALID_ARGUMENT, a
// violation on field.
func wantCode(t *testing.T, err error, code codes.Code, field string) {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != code {
		t.Fatalf("code = %v (%v), want %v", st.Code(), err, code)
	}
	if code != codes.InvalidArgument {
		return
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
	t.Fatalf("no violation on %q in %v", field, st.Details())
}

func TestCreateComment(t *testing.T) {
	f := newDiscussionFixture(t)
	for _, tc := range []struct {
		name   string
		ctx    context.Context
		parent string
		text   string
		code   codes.Code
		field  string
	}{
		{"a guardian comments on an assessment", f.mum, f.assessment, "  Well done!\n", codes.OK, ""},
		{"a contributor comments on a milestone", f.teacher, f.milestone, "Thank you", codes.OK, ""},
		{"an administrator comments", f.admin, f.milestone, "Noted", codes.OK, ""},
		{"empty text", f.mum, f.assessment, "", codes.InvalidArgument, "comment.text"},
		{"only white space", f.mum, f.assessment, " \n\t", codes.InvalidArgument, "comment.text"},
		{"1001 characters", f.mum, f.assessment, strings.Repeat("é", 1001), codes.InvalidArgument, "comment.text"},
		{"a malformed item name", f.mum, f.child + "/media/x", "hi", codes.InvalidArgument, "parent"},
		{"a missing item", f.mum, f.child + "/assessments/nope", "hi", codes.NotFound, ""},
		{"a guardian of another child", f.stranger, f.assessment, "hi", codes.NotFound, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := f.s.CreateComment(tc.ctx, &progressv1.CreateCommentRequest{Parent: tc.parent, Comment: &discussionv1.Comment{Text: tc.text}})
			if tc.code != codes.OK {
				wantCode(t, err, tc.code, tc.field)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(c.GetName(), tc.parent+"/comments/") || c.GetText() != strings.TrimSpace(tc.text) || c.GetCreateTime() == nil {
				t.Fatalf("comment = %v", c)
			}
		})
	}
	evs := f.events(t, notificationv1.EventType_EVENT_TYPE_COMMENT_ADDED)
	if len(evs) != 3 {
		t.Fatalf("COMMENT_ADDED events = %d, want 3 (one per comment stored)", len(evs))
	}
	if ev := evs[0]; ev.GetAudience() != notificationpeerv1.Audience_AUDIENCE_OTHERS || ev.GetActor() != "mum" ||
		ev.GetLink() != f.assessment || ev.GetChild() != f.child || ev.GetBody() != discussion.CommentNotice || !strings.Contains(ev.GetTitle(), "Fractions quiz") {
		t.Fatalf("event = %v", ev)
	}
	list, err := f.s.ListComments(f.gran, &progressv1.ListCommentsRequest{Parent: f.milestone, PageSize: 1})
	if err != nil || len(list.GetComments()) != 1 || list.GetComments()[0].GetAuthor() != "teacher" || list.GetNextPageToken() == "" {
		t.Fatalf("first page = %v, %v", list, err)
	}
	list, err = f.s.ListComments(f.gran, &progressv1.ListCommentsRequest{Parent: f.milestone, PageSize: 1, PageToken: list.GetNextPageToken()})
	if err != nil || len(list.GetComments()) != 1 || list.GetComments()[0].GetAuthor() != "root" || list.GetNextPageToken() != "" {
		t.Fatalf("second page = %v, %v", list, err)
	}
	_, err = f.s.ListComments(f.stranger, &progressv1.ListCommentsRequest{Parent: f.milestone})
	wantCode(t, err, codes.NotFound, "")
	_, err = f.s.ListComments(f.mum, &progressv1.ListCommentsRequest{Parent: f.child + "/milestones/nope"})
	wantCode(t, err, codes.NotFound, "")
}

func TestDeleteComment(t *testing.T) {
	f := newDiscussionFixture(t)
	comment := func(ctx context.Context) string {
		c, err := f.s.CreateComment(ctx, &progressv1.CreateCommentRequest{Parent: f.assessment, Comment: &discussionv1.Comment{Text: "hi"}})
		if err != nil {
			t.Fatal(err)
		}
		return c.GetName()
	}
	for _, tc := range []struct {
		name   string
		author context.Context
		by     context.Context
		code   codes.Code
	}{
		{"its author", f.mum, f.mum, codes.OK},
		{"a contributor of the child", f.mum, f.teacher, codes.OK},
		{"an administrator", f.mum, f.admin, codes.OK},
		{"another guardian", f.mum, f.gran, codes.PermissionDenied},
		{"a guardian of another child", f.mum, f.stranger, codes.NotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := comment(tc.author)
			_, err := f.s.DeleteComment(tc.by, &progressv1.DeleteCommentRequest{Name: name})
			wantCode(t, err, tc.code, "")
			_, err = f.s.DeleteComment(tc.author, &progressv1.DeleteCommentRequest{Name: name})
			if tc.code == codes.OK {
				wantCode(t, err, codes.NotFound, "") // gone
			} else if err != nil {
				t.Fatalf("the author could not delete it afterwards: %v", err)
			}
		})
	}
	_, err := f.s.DeleteComment(f.mum, &progressv1.DeleteCommentRequest{Name: f.assessment + "/comments/BAD"})
	wantCode(t, err, codes.InvalidArgument, "name")
}

func TestReactions(t *testing.T) {
	f := newDiscussionFixture(t)
	set := func(ctx context.Context, name string, kind discussionv1.ReactionKind) (*discussionv1.Reaction, error) {
		return f.s.SetReaction(ctx, &progressv1.SetReactionRequest{Reaction: &discussionv1.Reaction{Name: name, Kind: kind}})
	}
	heart, clap := discussionv1.ReactionKind_REACTION_KIND_HEART, discussionv1.ReactionKind_REACTION_KIND_CLAP
	for _, tc := range []struct {
		name  string
		ctx   context.Context
		rname string
		kind  discussionv1.ReactionKind
		code  codes.Code
		field string
	}{
		{"a guardian hearts an assessment", f.mum, f.assessment + "/reactions/me", heart, codes.OK, ""},
		{"and changes it to a clap", f.mum, f.assessment + "/reactions/mum", clap, codes.OK, ""},
		{"another guardian", f.gran, f.assessment + "/reactions/me", heart, codes.OK, ""},
		{"a contributor on a milestone", f.teacher, f.milestone + "/reactions/me", discussionv1.ReactionKind_REACTION_KIND_STAR, codes.OK, ""},
		{"no kind", f.mum, f.assessment + "/reactions/me", 0, codes.InvalidArgument, "reaction.kind"},
		{"an unknown kind", f.mum, f.assessment + "/reactions/me", 42, codes.InvalidArgument, "reaction.kind"},
		{"someone else's reaction", f.mum, f.assessment + "/reactions/gran", heart, codes.PermissionDenied, ""},
		{"a malformed name", f.mum, f.assessment + "/likes/me", heart, codes.InvalidArgument, "reaction.name"},
		{"a missing item", f.mum, f.child + "/milestones/nope/reactions/me", heart, codes.NotFound, ""},
		{"a guardian of another child", f.stranger, f.assessment + "/reactions/me", heart, codes.NotFound, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := set(tc.ctx, tc.rname, tc.kind)
			if tc.code != codes.OK {
				wantCode(t, err, tc.code, tc.field)
				return
			}
			if err != nil || r.GetKind() != tc.kind || strings.HasSuffix(r.GetName(), "/me") {
				t.Fatalf("reaction = %v, %v", r, err)
			}
		})
	}
	// mum replaced hers: three first reactions, three events.
	if evs := f.events(t, notificationv1.EventType_EVENT_TYPE_REACTION_ADDED); len(evs) != 3 ||
		evs[0].GetActor() != "mum" || evs[0].GetLink() != f.assessment || evs[0].GetAudience() != notificationpeerv1.Audience_AUDIENCE_OTHERS {
		t.Fatalf("REACTION_ADDED events = %v", evs)
	}
	list, err := f.s.ListReactions(f.mum, &progressv1.ListReactionsRequest{Parent: f.assessment})
	want := &discussionv1.ReactionSummary{MyKind: clap, Counts: []*discussionv1.ReactionCount{{Kind: heart, Count: 1}, {Kind: clap, Count: 1}}}
	if err != nil || len(list.GetReactions()) != 2 || !proto.Equal(list.GetSummary(), want) {
		t.Fatalf("reactions = %v, %v; want summary %v", list, err, want)
	}
	if _, err := f.s.CreateComment(f.gran, &progressv1.CreateCommentRequest{Parent: f.assessment, Comment: &discussionv1.Comment{Text: "Bravo"}}); err != nil {
		t.Fatal(err)
	}
	a, err := f.s.GetAssessment(f.mum, &progressv1.GetAssessmentRequest{Name: f.assessment})
	want.CommentCount = 1
	if err != nil || !proto.Equal(a.GetReactions(), want) {
		t.Fatalf("assessment's summary = %v, %v; want %v", a.GetReactions(), err, want)
	}
	ms, err := f.s.ListMilestones(f.gran, &progressv1.ListMilestonesRequest{Parent: f.child})
	if err != nil || len(ms.GetMilestones()) != 1 || ms.GetMilestones()[0].GetReactions().GetCounts()[0].GetCount() != 1 ||
		ms.GetMilestones()[0].GetReactions().GetMyKind() != 0 {
		t.Fatalf("milestones = %v, %v", ms, err)
	}

	if _, err := f.s.DeleteReaction(f.mum, &progressv1.DeleteReactionRequest{Name: f.assessment + "/reactions/me"}); err != nil {
		t.Fatal(err)
	}
	_, err = f.s.DeleteReaction(f.mum, &progressv1.DeleteReactionRequest{Name: f.assessment + "/reactions/me"})
	wantCode(t, err, codes.NotFound, "")
	_, err = f.s.DeleteReaction(f.mum, &progressv1.DeleteReactionRequest{Name: f.assessment + "/reactions/gran"})
	wantCode(t, err, codes.PermissionDenied, "")
	// Set again after removing it: not announced again.
	if _, err := set(f.mum, f.assessment+"/reactions/me", heart); err != nil {
		t.Fatal(err)
	}
	if evs := f.events(t, notificationv1.EventType_EVENT_TYPE_REACTION_ADDED); len(evs) != 3 {
		t.Fatalf("REACTION_ADDED events = %d after removing and setting again, want 3", len(evs))
	}
}

func TestDeletingItemsDeletesTheirConversation(t *testing.T) {
	f := newDiscussionFixture(t)
	for _, item := range []string{f.assessment, f.milestone} {
		if _, err := f.s.CreateComment(f.mum, &progressv1.CreateCommentRequest{Parent: item, Comment: &discussionv1.Comment{Text: "hi"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.s.SetReaction(f.mum, &progressv1.SetReactionRequest{Reaction: &discussionv1.Reaction{Name: item + "/reactions/me",
			Kind: discussionv1.ReactionKind_REACTION_KIND_WOW}}); err != nil {
			t.Fatal(err)
		}
	}
	count := func(table string) int {
		var n int
		if err := f.svc.db.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM `+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if _, err := f.s.DeleteAssessment(f.teacher, &progressv1.DeleteAssessmentRequest{Name: f.assessment}); err != nil {
		t.Fatal(err)
	}
	if n, m := count("assessment_comments"), count("assessment_reactions"); n != 0 || m != 0 {
		t.Fatalf("the deleted assessment left %d comments, %d reactions", n, m)
	}
	_, err := f.s.ListComments(f.mum, &progressv1.ListCommentsRequest{Parent: f.assessment})
	wantCode(t, err, codes.NotFound, "")
	if n := count("milestone_comments"); n != 1 {
		t.Fatalf("milestone comments = %d, want 1", n)
	}
	if _, err := f.s.DeleteChild(f.admin, &progressv1.DeleteChildRequest{Name: f.child}); err != nil {
		t.Fatal(err)
	}
	if n, m := count("milestone_comments"), count("milestone_reactions"); n != 0 || m != 0 {
		t.Fatalf("the deleted child left %d comments, %d reactions", n, m)
	}
}

// TestDraftsAreNotDiscussedByGuardians: a guardian, who does not see a
// draft (approval.go), can neither read nor write its conversation; the
// contributors can.
func TestDraftsAreNotDiscussedByGuardians(t *testing.T) {
	f := newDiscussionFixture(t)
	if _, err := f.s.UpdateChild(f.admin, &progressv1.UpdateChildRequest{Child: &progressv1.Child{Name: f.child, RequireApproval: true},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"require_approval"}}}); err != nil {
		t.Fatal(err)
	}
	draft, err := f.s.CreateMilestone(f.teacher, &progressv1.CreateMilestoneRequest{Parent: f.child, Milestone: &progressv1.Milestone{
		Title: "Rode a bike", AchievedDate: "2026-03-03"}})
	if err != nil {
		t.Fatal(err)
	}
	if draft.GetState() != progressv1.PublishState_PUBLISH_STATE_DRAFT {
		t.Fatalf("state = %v, want a draft", draft.GetState())
	}
	byTeacher, err := f.s.CreateComment(f.teacher, &progressv1.CreateCommentRequest{Parent: draft.GetName(), Comment: &discussionv1.Comment{Text: "Approve?"}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.s.CreateComment(f.mum, &progressv1.CreateCommentRequest{Parent: draft.GetName(), Comment: &discussionv1.Comment{Text: "hi"}})
	wantCode(t, err, codes.NotFound, "")
	_, err = f.s.ListComments(f.mum, &progressv1.ListCommentsRequest{Parent: draft.GetName()})
	wantCode(t, err, codes.NotFound, "")
	_, err = f.s.SetReaction(f.mum, &progressv1.SetReactionRequest{Reaction: &discussionv1.Reaction{Name: draft.GetName() + "/reactions/me",
		Kind: discussionv1.ReactionKind_REACTION_KIND_HEART}})
	wantCode(t, err, codes.NotFound, "")
	_, err = f.s.ListReactions(f.mum, &progressv1.ListReactionsRequest{Parent: draft.GetName()})
	wantCode(t, err, codes.NotFound, "")
	_, err = f.s.DeleteComment(f.mum, &progressv1.DeleteCommentRequest{Name: byTeacher.GetName()})
	wantCode(t, err, codes.NotFound, "")
}

// TestDraftConversationGoesToContributors: a comment or a reaction on a
// draft is announced to the child's contributors only; before, guardians
// were told "New comment on “<the draft's title>”" of an item they may
// not see.
func TestDraftConversationGoesToContributors(t *testing.T) {
	f := newDiscussionFixture(t)
	if _, err := f.s.UpdateChild(f.admin, &progressv1.UpdateChildRequest{
		Child:      &progressv1.Child{Name: f.child, RequireApproval: true},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"require_approval"}},
	}); err != nil {
		t.Fatal(err)
	}
	a, err := f.s.CreateAssessment(f.teacher, &progressv1.CreateAssessmentRequest{Parent: f.child, Assessment: &progressv1.Assessment{
		Subject: "Math", Title: "Secret draft", Kind: progressv1.AssessmentKind_ASSESSMENT_KIND_TEST, AssessedDate: "2026-03-03"}})
	if err != nil {
		t.Fatal(err)
	}
	if a.GetState() != progressv1.PublishState_PUBLISH_STATE_DRAFT {
		t.Fatalf("state = %v, want a draft", a.GetState())
	}
	if _, err := f.s.CreateComment(f.teacher, &progressv1.CreateCommentRequest{Parent: a.GetName(), Comment: &discussionv1.Comment{Text: "check this"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.SetReaction(f.admin, &progressv1.SetReactionRequest{Reaction: &discussionv1.Reaction{
		Name: a.GetName() + "/reactions/me", Kind: discussionv1.ReactionKind_REACTION_KIND_STAR}}); err != nil {
		t.Fatal(err)
	}
	// A published item's conversation still goes to every other guardian.
	if _, err := f.s.CreateComment(f.mum, &progressv1.CreateCommentRequest{Parent: f.assessment, Comment: &discussionv1.Comment{Text: "yay"}}); err != nil {
		t.Fatal(err)
	}
	evs := f.events(t, notificationv1.EventType_EVENT_TYPE_COMMENT_ADDED, notificationv1.EventType_EVENT_TYPE_REACTION_ADDED)
	if len(evs) != 3 {
		t.Fatalf("events = %d, want 3", len(evs))
	}
	for i, want := range []notificationpeerv1.Audience{notificationpeerv1.Audience_AUDIENCE_CONTRIBUTORS,
		notificationpeerv1.Audience_AUDIENCE_CONTRIBUTORS, notificationpeerv1.Audience_AUDIENCE_OTHERS} {
		if got := evs[i].GetAudience(); got != want {
			t.Errorf("event %d (%s) audience = %v, want %v", i, evs[i].GetTitle(), got, want)
		}
	}
}
