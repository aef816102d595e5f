package progress

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	discussionv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/discussion/v1"
	notificationpeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/peer/v1"
	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
	progresspeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/peer/v1"
	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
	"github.com/kinbridge/kinbridge/pkg/testenv"
)

// approvalEnv is a progress service with one child: admin "root",
// contributors "ann" and "ben", guardian "gina". Without a publisher its
// events stay in the outbox, where the test reads them.
type approvalEnv struct {
	t     *testing.T
	svc   *Service
	child string
	seen  int // outbox messages already returned by newEvents
}

func newApprovalEnv(t *testing.T, requireApproval bool) *approvalEnv {
	t.Helper()
	svc, err := New(t.Context(), Config{DSN: "sqlite:" + filepath.Join(t.TempDir(), "progress.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	e := &approvalEnv{t: t, svc: svc}
	s, admin := svc.server, e.as("root", true)
	c, err := s.CreateChild(admin, &progressv1.CreateChildRequest{Child: &progressv1.Child{DisplayName: "Ada"}})
	if err != nil {
		t.Fatal(err)
	}
	e.child = c.GetName()
	for user, role := range map[string]progressv1.Role{"ann": progressv1.Role_ROLE_CONTRIBUTOR, "ben": progressv1.Role_ROLE_CONTRIBUTOR,
		"cal": progressv1.Role_ROLE_CONTRIBUTOR, "gina": progressv1.Role_ROLE_GUARDIAN} {
		if _, err := s.CreateGuardianship(admin, &progressv1.CreateGuardianshipRequest{Parent: e.child,
			Guardianship: &progressv1.Guardianship{User: user, Role: role}}); err != nil {
			t.Fatal(err)
		}
	}
	if requireApproval {
		e.setRequireApproval(true)
	}
	e.newEvents() // the guardianships' events
	return e
}

func (e *approvalEnv) as(user string, admin bool) context.Context {
	return as(e.t.Context(), user, admin)
}

func (e *approvalEnv) setRequireApproval(on bool) {
	e.t.Helper()
	c, err := e.svc.server.UpdateChild(e.as("root", true), &progressv1.UpdateChildRequest{
		Child:      &progressv1.Child{Name: e.child, RequireApproval: on},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"require_approval"}},
	})
	if err != nil || c.GetRequireApproval() != on {
		e.t.Fatalf("setting require_approval %v: %v, %v", on, c, err)
	}
}

// newEvents returns the events written to the outbox since the last call,
// in the order they were written.
func (e *approvalEnv) newEvents() []*notificationpeerv1.Event {
	e.t.Helper()
	rows, err := e.svc.db.QueryContext(e.t.Context(), `SELECT payload FROM outbox_messages ORDER BY create_us, seq`)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var all []*notificationpeerv1.Event
	for rows.Next() {
		var payload []byte
		if err := rows.Scan(&payload); err != nil {
			e.t.Fatal(err)
		}
		ev := &notificationpeerv1.Event{}
		if err := proto.Unmarshal(payload, ev); err != nil {
			e.t.Fatal(err)
		}
		all = append(all, ev)
	}
	if err := rows.Err(); err != nil {
		e.t.Fatal(err)
	}
	out := all[e.seen:]
	e.seen = len(all)
	return out
}

// wantEvents checks the events since the last call: their types, actors
// and audiences, and that they link to link.
func (e *approvalEnv) wantEvents(link string, want ...*notificationpeerv1.Event) {
	e.t.Helper()
	got := e.newEvents()
	if len(got) != len(want) {
		e.t.Fatalf("events %v, want %v", got, want)
	}
	for i, w := range want {
		g := got[i]
		if g.GetType() != w.GetType() || g.GetActor() != w.GetActor() || g.GetAudience() != w.GetAudience() ||
			g.GetLink() != link || g.GetChild() != e.child {
			e.t.Errorf("event %d = %v, want %v about %s", i, g, w, link)
		}
	}
}

// record is an assessment or a milestone, seen the same way by the rules.
type record struct {
	name       string
	state      progressv1.PublishState
	recordedBy string
	approvedBy string
	approved   bool // approve_time set
	etag       string
	title      string
}

// kind drives one kind of record through the same rules.
type kind struct {
	name      string
	published notificationv1.EventType
	create    func(s *server, ctx context.Context, child string) (record, error)
	get       func(s *server, ctx context.Context, name string) (record, error)
	list      func(s *server, ctx context.Context, child string, state progressv1.PublishState) ([]string, error)
	approve   func(s *server, ctx context.Context, name, etag string) (record, error)
	retitle   func(s *server, ctx context.Context, name, etag, title string) (record, error)
	summary   func(s *server, ctx context.Context, child string) int // assessments or milestones it counts
}

func assessmentRecord(a *progressv1.Assessment) record {
	return record{a.GetName(), a.GetState(), a.GetRecordedBy(), a.GetApprovedBy(), a.GetApproveTime() != nil, a.GetEtag(), a.GetTitle()}
}

func milestoneRecord(m *progressv1.Milestone) record {
	return record{m.GetName(), m.GetState(), m.GetRecordedBy(), m.GetApprovedBy(), m.GetApproveTime() != nil, m.GetEtag(), m.GetTitle()}
}

var kinds = []kind{
	{
		name:      "assessment",
		published: notificationv1.EventType_EVENT_TYPE_ASSESSMENT_RECORDED,
		create: func(s *server, ctx context.Context, child string) (record, error) {
			a, err := s.CreateAssessment(ctx, &progressv1.CreateAssessmentRequest{Parent: child, Assessment: &progressv1.Assessment{
				Subject: "Math", Title: "Quiz", Kind: progressv1.AssessmentKind_ASSESSMENT_KIND_TEST, AssessedDate: "2026-03-01",
				Score: &progressv1.Score{Value: &progressv1.Score_Points{Points: &progressv1.Points{Earned: 18, Possible: 20}}}}})
			return assessmentRecord(a), err
		},
		get: func(s *server, ctx context.Context, name string) (record, error) {
			a, err := s.GetAssessment(ctx, &progressv1.GetAssessmentRequest{Name: name})
			return assessmentRecord(a), err
		},
		list: func(s *server, ctx context.Context, child string, state progressv1.PublishState) ([]string, error) {
			resp, err := s.ListAssessments(ctx, &progressv1.ListAssessmentsRequest{Parent: child, State: state})
			var out []string
			for _, a := range resp.GetAssessments() {
				out = append(out, a.GetName())
			}
			return out, err
		},
		approve: func(s *server, ctx context.Context, name, etag string) (record, error) {
			a, err := s.ApproveAssessment(ctx, &progressv1.ApproveAssessmentRequest{Name: name, Etag: etag})
			return assessmentRecord(a), err
		},
		retitle: func(s *server, ctx context.Context, name, etag, title string) (record, error) {
			a, err := s.UpdateAssessment(ctx, &progressv1.UpdateAssessmentRequest{
				Assessment: &progressv1.Assessment{Name: name, Etag: etag, Title: title},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}}})
			return assessmentRecord(a), err
		},
		summary: func(s *server, ctx context.Context, child string) int {
			sum, err := s.GetProgressSummary(ctx, &progressv1.GetProgressSummaryRequest{Name: child + "/progressSummary"})
			if err != nil {
				panic(err)
			}
			return int(sum.GetOverall().GetAssessmentCount())
		},
	},
	{
		name:      "milestone",
		published: notificationv1.EventType_EVENT_TYPE_MILESTONE_ACHIEVED,
		create: func(s *server, ctx context.Context, child string) (record, error) {
			m, err := s.CreateMilestone(ctx, &progressv1.CreateMilestoneRequest{Parent: child, Milestone: &progressv1.Milestone{
				Title: "Reads alone", AchievedDate: "2026-03-01"}})
			return milestoneRecord(m), err
		},
		get: func(s *server, ctx context.Context, name string) (record, error) {
			m, err := s.GetMilestone(ctx, &progressv1.GetMilestoneRequest{Name: name})
			return milestoneRecord(m), err
		},
		list: func(s *server, ctx context.Context, child string, state progressv1.PublishState) ([]string, error) {
			resp, err := s.ListMilestones(ctx, &progressv1.ListMilestonesRequest{Parent: child, State: state})
			var out []string
			for _, m := range resp.GetMilestones() {
				out = append(out, m.GetName())
			}
			return out, err
		},
		approve: func(s *server, ctx context.Context, name, etag string) (record, error) {
			m, err := s.ApproveMilestone(ctx, &progressv1.ApproveMilestoneRequest{Name: name, Etag: etag})
			return milestoneRecord(m), err
		},
		retitle: func(s *server, ctx context.Context, name, etag, title string) (record, error) {
			m, err := s.UpdateMilestone(ctx, &progressv1.UpdateMilestoneRequest{
				Milestone:  &progressv1.Milestone{Name: name, Etag: etag, Title: title},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}}})
			return milestoneRecord(m), err
		},
		summary: func(s *server, ctx context.Context, child string) int {
			sum, err := s.GetProgressSummary(ctx, &progressv1.GetProgressSummaryRequest{Name: child + "/progressSummary"})
			if err != nil {
				panic(err)
			}
			return len(sum.GetMilestones())
		},
	},
}

func ev(typ notificationv1.EventType, actor string, audience notificationpeerv1.Audience) *notificationpeerv1.Event {
	return &notificationpeerv1.Event{Type: typ, Actor: actor, Audience: audience}
}

const (
	draft     = progressv1.PublishState_PUBLISH_STATE_DRAFT
	published = progressv1.PublishState_PUBLISH_STATE_PUBLISHED
)

// TestApprovalCreates: who makes a draft, and what each creation tells whom.
func TestApprovalCreates(t *testing.T) {
	for _, k := range kinds {
		for _, tt := range []struct {
			name      string
			require   bool
			user      string
			admin     bool
			wantState progressv1.PublishState
			wantEvent *notificationpeerv1.Event
		}{
			{"a contributor's for a child that requires approval is a draft", true, "ann", false, draft,
				ev(notificationv1.EventType_EVENT_TYPE_APPROVAL_REQUESTED, "ann", notificationpeerv1.Audience_AUDIENCE_CONTRIBUTORS)},
			{"an administrator's is published at once", true, "root", true, published,
				ev(k.published, "root", notificationpeerv1.Audience_AUDIENCE_UNSPECIFIED)},
			{"a contributor's for another child is published at once", false, "ann", false, published,
				ev(k.published, "ann", notificationpeerv1.Audience_AUDIENCE_UNSPECIFIED)},
		} {
			t.Run(k.name+"/"+tt.name, func(t *testing.T) {
				e := newApprovalEnv(t, tt.require)
				r, err := k.create(e.svc.server, e.as(tt.user, tt.admin), e.child)
				if err != nil {
					t.Fatal(err)
				}
				if r.state != tt.wantState || r.approvedBy != "" || r.approved || r.recordedBy != tt.user {
					t.Fatalf("created %+v, want state %v, no approval", r, tt.wantState)
				}
				e.wantEvents(r.name, tt.wantEvent)
			})
		}
	}
}

// TestApprovalVisibility: guardians never see drafts; contributors and
// administrators do, with their state, and may filter by it.
func TestApprovalVisibility(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			e := newApprovalEnv(t, true)
			s := e.svc.server
			d, err := k.create(s, e.as("ann", false), e.child)
			if err != nil {
				t.Fatal(err)
			}
			p, err := k.create(s, e.as("root", true), e.child)
			if err != nil {
				t.Fatal(err)
			}
			for _, tt := range []struct {
				user        string
				admin       bool
				seesDrafts  bool
				wantSummary int
			}{
				{"gina", false, false, 1},
				{"ann", false, true, 1},
				{"ben", false, true, 1},
				{"root", true, true, 1},
			} {
				ctx := e.as(tt.user, tt.admin)
				got, err := k.get(s, ctx, d.name)
				switch {
				case tt.seesDrafts && (err != nil || got.state != draft):
					t.Errorf("%s gets the draft: %+v, %v", tt.user, got, err)
				case !tt.seesDrafts && status.Code(err) != codes.NotFound:
					t.Errorf("%s gets the draft: %+v, %v; want NOT_FOUND", tt.user, got, err)
				}
				// Nor its conversation.
				_, err = s.CreateComment(ctx, &progressv1.CreateCommentRequest{Parent: d.name, Comment: &discussionv1.Comment{Text: "Well done"}})
				if wantCode := map[bool]codes.Code{true: codes.OK, false: codes.NotFound}[tt.seesDrafts]; status.Code(err) != wantCode {
					t.Errorf("%s comments on the draft: %v, want %v", tt.user, err, wantCode)
				}
				if got, err := k.get(s, ctx, p.name); err != nil || got.state != published {
					t.Errorf("%s gets the published one: %+v, %v", tt.user, got, err)
				}
				lists := map[progressv1.PublishState][]string{
					progressv1.PublishState_PUBLISH_STATE_UNSPECIFIED: {d.name, p.name},
					draft:     {d.name},
					published: {p.name},
				}
				if !tt.seesDrafts {
					lists = map[progressv1.PublishState][]string{
						progressv1.PublishState_PUBLISH_STATE_UNSPECIFIED: {p.name},
						draft:     nil,
						published: {p.name},
					}
				}
				for state, want := range lists {
					got, err := k.list(s, ctx, e.child, state)
					if err != nil || !sameNames(got, want) {
						t.Errorf("%s lists %v: %v, %v; want %v", tt.user, state, got, err, want)
					}
				}
				// Drafts count nowhere, whoever asks.
				if n := k.summary(s, ctx, e.child); n != tt.wantSummary {
					t.Errorf("%s's summary counts %d, want %d", tt.user, n, tt.wantSummary)
				}
			}
		})
	}
}

func sameNames(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	seen := map[string]bool{}
	for _, g := range got {
		seen[g] = true
	}
	for _, w := range want {
		if !seen[w] {
			return false
		}
	}
	return true
}

// TestApprovalApproves: who may approve, what an approval publishes and
// tells the guardians, and what cannot be approved.
func TestApprovalApproves(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			e := newApprovalEnv(t, true)
			s := e.svc.server
			d, err := k.create(s, e.as("ann", false), e.child)
			if err != nil {
				t.Fatal(err)
			}
			e.newEvents()
			for _, tt := range []struct {
				who   string
				user  string
				admin bool
				etag  string
				name  string
				want  codes.Code
			}{
				{"the author", "ann", false, d.etag, d.name, codes.PermissionDenied},
				{"a guardian", "gina", false, d.etag, d.name, codes.PermissionDenied},
				{"a stranger", "olga", false, d.etag, d.name, codes.NotFound},
				{"a stale etag", "ben", false, "v99", d.name, codes.Aborted},
				{"a missing record", "ben", false, d.etag, e.child + "/" + k.name + "s/nope", codes.NotFound},
			} {
				if _, err := k.approve(s, e.as(tt.user, tt.admin), tt.name, tt.etag); status.Code(err) != tt.want {
					t.Errorf("%s: %v, want %v", tt.who, err, tt.want)
				}
			}
			e.wantEvents(d.name) // nothing was approved, nothing told

			// Turning approval off publishes no draft.
			e.setRequireApproval(false)
			if _, err := k.get(s, e.as("gina", false), d.name); status.Code(err) != codes.NotFound {
				t.Fatalf("a draft after require_approval was turned off: %v", err)
			}
			if n := k.summary(s, e.as("gina", false), e.child); n != 0 {
				t.Fatalf("summary counts %d before the approval", n)
			}

			got, err := k.approve(s, e.as("ben", false), d.name, d.etag)
			if err != nil {
				t.Fatal(err)
			}
			if got.state != published || got.approvedBy != "ben" || !got.approved || got.recordedBy != "ann" {
				t.Fatalf("approved %+v", got)
			}
			// The guardians' event, naming the author, once.
			e.wantEvents(d.name, ev(k.published, "ann", notificationpeerv1.Audience_AUDIENCE_UNSPECIFIED))
			if g, err := k.get(s, e.as("gina", false), d.name); err != nil || g != got {
				t.Fatalf("the guardian reads %+v, %v; want %+v", g, err, got)
			}
			if n := k.summary(s, e.as("gina", false), e.child); n != 1 {
				t.Fatalf("summary counts %d after the approval, want 1", n)
			}

			_, err = k.approve(s, e.as("root", true), d.name, got.etag)
			if status.Code(err) != codes.FailedPrecondition {
				t.Fatalf("approving again: %v, want FAILED_PRECONDITION", err)
			}
			if !hasPreconditionFailure(err, d.name) {
				t.Errorf("approving again: %v carries no PreconditionFailure on %s", err, d.name)
			}
			e.wantEvents(d.name)
		})
	}
}

func hasPreconditionFailure(err error, subject string) bool {
	for _, d := range status.Convert(err).Details() {
		if pf, ok := d.(*errdetails.PreconditionFailure); ok && len(pf.GetViolations()) > 0 && pf.GetViolations()[0].GetSubject() == subject {
			return true
		}
	}
	return false
}

// TestApprovalByAdministrator: an administrator may approve any draft,
// their own included (recorded while not acting as one).
func TestApprovalByAdministrator(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			e := newApprovalEnv(t, true)
			s := e.svc.server
			d, err := k.create(s, e.as("root", false), e.child)
			if status.Code(err) != codes.NotFound {
				t.Fatalf("root without the admin flag and no guardianship recorded: %+v, %v", d, err)
			}
			d, err = k.create(s, e.as("ann", false), e.child)
			if err != nil {
				t.Fatal(err)
			}
			got, err := k.approve(s, e.as("root", true), d.name, d.etag)
			if err != nil || got.state != published || got.approvedBy != "root" {
				t.Fatalf("approved %+v, %v", got, err)
			}
		})
	}
}

// TestApprovalNeedsEtag: an approval names the version it approves.
func TestApprovalNeedsEtag(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			e := newApprovalEnv(t, true)
			s := e.svc.server
			d, err := k.create(s, e.as("ann", false), e.child)
			if err != nil {
				t.Fatal(err)
			}
			e.newEvents()
			for _, who := range []struct {
				user  string
				admin bool
			}{{"ben", false}, {"root", true}} {
				_, err := k.approve(s, e.as(who.user, who.admin), d.name, "")
				if status.Code(err) != codes.InvalidArgument || !slices.Contains(testenv.FieldViolations(err), "etag") {
					t.Errorf("%s approves without an etag: %v, want INVALID_ARGUMENT on etag", who.user, err)
				}
			}
			if got, err := k.get(s, e.as("ann", false), d.name); err != nil || got.state != draft {
				t.Fatalf("after refused approvals: %+v, %v", got, err)
			}
			e.wantEvents(d.name)
		})
	}
}

// TestApprovalEdits: guardians see only what someone other than its
// writers approved. A contributor's edit of a published record makes it a
// draft again, and neither its author nor any editor approves it; an
// administrator's edit keeps it published.
func TestApprovalEdits(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			e := newApprovalEnv(t, true)
			s := e.svc.server
			gina := e.as("gina", false)
			d, err := k.create(s, e.as("ann", false), e.child)
			if err != nil {
				t.Fatal(err)
			}
			r, err := k.approve(s, e.as("ben", false), d.name, d.etag)
			if err != nil {
				t.Fatal(err)
			}
			e.newEvents()
			seen := func(wantTitle string) {
				t.Helper()
				got, err := k.get(s, gina, d.name)
				if wantTitle == "" {
					if status.Code(err) != codes.NotFound {
						t.Fatalf("the guardian reads %+v, %v; want NOT_FOUND", got, err)
					}
					if names, err := k.list(s, gina, e.child, progressv1.PublishState_PUBLISH_STATE_UNSPECIFIED); err != nil || len(names) != 0 {
						t.Fatalf("the guardian lists %v, %v; want nothing", names, err)
					}
					return
				}
				if err != nil || got.title != wantTitle || got.state != published {
					t.Fatalf("the guardian reads %+v, %v; want %q published", got, err, wantTitle)
				}
			}
			seen(r.title)

			// The author's edit of what was approved is a draft again.
			r, err = k.retitle(s, e.as("ann", false), d.name, r.etag, "Rewritten by ann")
			if err != nil || r.state != draft || r.approvedBy != "" || r.approved {
				t.Fatalf("ann's edit: %+v, %v; want a draft without approval", r, err)
			}
			seen("")
			e.wantEvents(d.name, ev(notificationv1.EventType_EVENT_TYPE_APPROVAL_REQUESTED, "ann", notificationpeerv1.Audience_AUDIENCE_CONTRIBUTORS))
			if _, err := k.approve(s, e.as("ann", false), d.name, r.etag); status.Code(err) != codes.PermissionDenied {
				t.Fatalf("ann approves her edit: %v, want PERMISSION_DENIED", err)
			}
			r, err = k.approve(s, e.as("ben", false), d.name, r.etag)
			if err != nil || r.state != published || r.approvedBy != "ben" {
				t.Fatalf("ben approves ann's edit: %+v, %v", r, err)
			}
			seen("Rewritten by ann")
			e.wantEvents(d.name, ev(k.published, "ann", notificationpeerv1.Audience_AUDIENCE_UNSPECIFIED))

			// Another contributor's edit: they may not approve their words,
			// nor may the author; an administrator may.
			r, err = k.retitle(s, e.as("ben", false), d.name, r.etag, "Rewritten by ben")
			if err != nil || r.state != draft {
				t.Fatalf("ben's edit: %+v, %v; want a draft", r, err)
			}
			seen("")
			e.wantEvents(d.name, ev(notificationv1.EventType_EVENT_TYPE_APPROVAL_REQUESTED, "ben", notificationpeerv1.Audience_AUDIENCE_CONTRIBUTORS))
			for _, user := range []string{"ben", "ann"} {
				if _, err := k.approve(s, e.as(user, false), d.name, r.etag); status.Code(err) != codes.PermissionDenied {
					t.Fatalf("%s approves ben's edit: %v, want PERMISSION_DENIED", user, err)
				}
			}
			r, err = k.approve(s, e.as("root", true), d.name, r.etag)
			if err != nil || r.state != published || r.approvedBy != "root" {
				t.Fatalf("root approves ben's edit: %+v, %v", r, err)
			}
			seen("Rewritten by ben")
			e.newEvents()

			// An edit that changes nothing guardians see changes nothing.
			r, err = k.retitle(s, e.as("ann", false), d.name, r.etag, "Rewritten by ben")
			if err != nil || r.state != published || r.approvedBy != "root" {
				t.Fatalf("an edit to the same title: %+v, %v; want it published still", r, err)
			}

			// An administrator's edit stays published.
			r, err = k.retitle(s, e.as("root", true), d.name, r.etag, "Rewritten by root")
			if err != nil || r.state != published || r.approvedBy != "root" {
				t.Fatalf("root's edit: %+v, %v; want it published still", r, err)
			}
			seen("Rewritten by root")
			e.wantEvents(d.name)
		})
	}
}

// TestApprovalDraftEditedByAnother: whoever rewrites someone's draft may
// not approve it; a third contributor or an administrator does.
func TestApprovalDraftEditedByAnother(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			e := newApprovalEnv(t, true)
			s := e.svc.server
			d, err := k.create(s, e.as("ann", false), e.child)
			if err != nil {
				t.Fatal(err)
			}
			r, err := k.retitle(s, e.as("ben", false), d.name, d.etag, "Rewritten by ben")
			if err != nil || r.state != draft {
				t.Fatalf("ben's edit: %+v, %v", r, err)
			}
			// cal's edit, then the author's, leave ben's words in it: none
			// of the three approves.
			r, err = k.retitle(s, e.as("cal", false), d.name, r.etag, "Rewritten by ben, then cal")
			if err != nil || r.state != draft {
				t.Fatalf("cal's edit: %+v, %v", r, err)
			}
			r, err = k.retitle(s, e.as("ann", false), d.name, r.etag, "Rewritten by ben, then ann")
			if err != nil || r.state != draft {
				t.Fatalf("ann's edit: %+v, %v", r, err)
			}
			for _, user := range []string{"ben", "cal", "ann"} {
				if _, err := k.approve(s, e.as(user, false), d.name, r.etag); status.Code(err) != codes.PermissionDenied {
					t.Fatalf("%s approves: %v, want PERMISSION_DENIED", user, err)
				}
			}
			if r, err = k.approve(s, e.as("root", true), d.name, r.etag); err != nil || r.state != published {
				t.Fatalf("root approves: %+v, %v", r, err)
			}
			if g, err := k.get(s, e.as("gina", false), d.name); err != nil || g.title != "Rewritten by ben, then ann" {
				t.Fatalf("the guardian reads %+v, %v", g, err)
			}
		})
	}
}

// TestRequireApprovalSetting: administrators set it; everyone who sees the
// child sees it; other services learn it from CheckAccess.
func TestRequireApprovalSetting(t *testing.T) {
	e := newApprovalEnv(t, false)
	s := e.svc.server
	for _, user := range []string{"ann", "gina"} {
		_, err := s.UpdateChild(e.as(user, false), &progressv1.UpdateChildRequest{
			Child:      &progressv1.Child{Name: e.child, RequireApproval: true},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"requireApproval"}},
		})
		if status.Code(err) != codes.PermissionDenied {
			t.Errorf("%s sets require_approval: %v, want PERMISSION_DENIED", user, err)
		}
	}
	check := func(user string, want bool) {
		t.Helper()
		resp, err := e.svc.access.CheckAccess(e.t.Context(), &progresspeerv1.CheckAccessRequest{
			Child: e.child, User: user, Permission: progresspeerv1.Permission_PERMISSION_CONTRIBUTE})
		if err != nil || resp.GetApprovalRequired() != want {
			t.Errorf("CheckAccess(%s) = %v, %v; want approval_required %v", user, resp, err, want)
		}
	}
	check("ann", false)
	e.setRequireApproval(true)
	for _, user := range []string{"ann", "gina"} {
		c, err := s.GetChild(e.as(user, false), &progressv1.GetChildRequest{Name: e.child})
		if err != nil || !c.GetRequireApproval() {
			t.Errorf("%s reads the child: %v, %v", user, c, err)
		}
	}
	check("ann", true)
	check("olga", true)
	// A change of anything else keeps it.
	c, err := s.UpdateChild(e.as("root", true), &progressv1.UpdateChildRequest{
		Child: &progressv1.Child{Name: e.child, School: "Hill"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"school"}}})
	if err != nil || !c.GetRequireApproval() {
		t.Errorf("after changing the school: %v, %v", c, err)
	}
	resp, err := e.svc.access.CheckAccess(e.t.Context(), &progresspeerv1.CheckAccessRequest{
		Child: "children/nope", User: "ann", Permission: progresspeerv1.Permission_PERMISSION_VIEW})
	if err != nil || resp.GetApprovalRequired() || resp.GetChildExists() {
		t.Errorf("CheckAccess of a missing child = %v, %v", resp, err)
	}
}

// TestApprovalLeavesUserAlone: GetUser is the same with drafts about.
func TestApprovalLeavesUserAlone(t *testing.T) {
	e := newApprovalEnv(t, true)
	if _, err := kinds[0].create(e.svc.server, e.as("ann", false), e.child); err != nil {
		t.Fatal(err)
	}
	u, err := e.svc.server.GetUser(e.as("gina", false), &progressv1.GetUserRequest{Name: "users/me"})
	if err != nil || len(u.GetChildren()) != 1 || u.GetChildren()[0].GetChild() != e.child {
		t.Fatalf("GetUser = %v, %v", u, err)
	}
}
