package progress

import (
	"context"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
	"github.com/kinbridge/kinbridge/pkg/etag"
	"github.com/kinbridge/kinbridge/pkg/names"
	"github.com/kinbridge/kinbridge/pkg/outbox"
	"github.com/kinbridge/kinbridge/pkg/pagetoken"
	"github.com/kinbridge/kinbridge/pkg/validate"
	"github.com/kinbridge/kinbridge/services/progress/store"
	"github.com/kinbridge/kinbridge/services/progress/summary"
)

// Assessments, milestones and the grading scale: contributors write,
// guardians read (access.go has the policy).

// checkDate requires a real calendar day; empty passes when optional.
func checkDate(field, day string, required bool) *validate.Field {
	if day == "" && !required {
		return nil
	}
	if _, err := time.Parse(time.DateOnly, day); err != nil {
		return &validate.Field{Path: field, Description: "is not a real date (YYYY-MM-DD)"}
	}
	return nil
}

// checkRange validates an optional inclusive date window.
func checkRange(start, end string) error {
	var bad []validate.Field
	for _, f := range []*validate.Field{checkDate("start_date", start, false), checkDate("end_date", end, false)} {
		if f != nil {
			bad = append(bad, *f)
		}
	}
	if len(bad) == 0 && start != "" && end != "" && start > end {
		bad = append(bad, validate.Field{Path: "end_date", Description: "is before start_date"})
	}
	if len(bad) > 0 {
		return validate.InvalidArgument(bad...)
	}
	return nil
}

func invalid(fields []validate.Field) error {
	if len(fields) > 0 {
		return validate.InvalidArgument(fields...)
	}
	return nil
}

// scale returns the child's grading scale: its own, or the default.
func (s *server) scale(ctx context.Context, childID string) ([]summary.Grade, store.GradingScale, bool, error) {
	gs, found, err := s.store.GradingScale(ctx, childID)
	if err != nil {
		return nil, gs, false, storeError(err, "grading scale")
	}
	if !found {
		return summary.DefaultScale(), gs, false, nil
	}
	return gs.Grades, gs, true, nil
}

// percent is an assessment's score as a percentage, when it has one.
func percent(a store.Assessment, scale []summary.Grade) *float64 {
	var p float64
	var ok bool
	switch {
	case a.Kind == int(progressv1.AssessmentKind_ASSESSMENT_KIND_TEACHER_NOTE):
	case a.Score.Kind == store.ScoredPoints:
		p, ok = summary.PointsPercent(a.Score.Earned, a.Score.Possible)
	case a.Score.Kind == store.ScoredLetter:
		p, ok = summary.LetterPercent(scale, a.Score.Letter)
	}
	if !ok {
		return nil
	}
	return &p
}

func assessmentToProto(a store.Assessment, scale []summary.Grade) *progressv1.Assessment {
	out := &progressv1.Assessment{
		Name:           names.Assessment{Child: a.ChildID, ID: a.ID}.String(),
		Subject:        a.Subject,
		Title:          a.Title,
		Kind:           progressv1.AssessmentKind(a.Kind),
		AssessedDate:   a.AssessedDate,
		TeacherComment: a.TeacherComment,
		RecordedBy:     a.RecordedBy,
		CreateTime:     timestamppb.New(a.CreateTime),
		UpdateTime:     timestamppb.New(a.UpdateTime),
		Etag:           etag.Of(a.Revision),
	}
	out.State, out.ApprovedBy, out.ApproveTime = approvalFields(a.Approval)
	switch a.Score.Kind {
	case store.ScoredPoints:
		out.Score = &progressv1.Score{Value: &progressv1.Score_Points{Points: &progressv1.Points{Earned: a.Score.Earned, Possible: a.Score.Possible}}}
	case store.ScoredLetter:
		out.Score = &progressv1.Score{Value: &progressv1.Score_LetterGrade{LetterGrade: a.Score.Letter}}
	}
	if p := percent(a, scale); p != nil {
		r := summary.Round(*p)
		out.Percent = &r
	}
	return out
}

func scoreFromProto(sc *progressv1.Score) store.Score {
	switch v := sc.GetValue().(type) {
	case *progressv1.Score_Points:
		return store.Score{Kind: store.ScoredPoints, Earned: v.Points.GetEarned(), Possible: v.Points.GetPossible()}
	case *progressv1.Score_LetterGrade:
		return store.Score{Kind: store.ScoredLetter, Letter: strings.TrimSpace(v.LetterGrade)}
	}
	return store.Score{}
}

// checkAssessment validates a whole assessment, as created or as updated.
func checkAssessment(prefix string, a store.Assessment) error {
	var bad []validate.Field
	if strings.TrimSpace(a.Subject) == "" {
		bad = append(bad, validate.Field{Path: prefix + "subject", Description: "is required"})
	}
	if strings.TrimSpace(a.Title) == "" {
		bad = append(bad, validate.Field{Path: prefix + "title", Description: "is required"})
	}
	if a.Kind == 0 {
		bad = append(bad, validate.Field{Path: prefix + "kind", Description: "is required"})
	}
	if f := checkDate(prefix+"assessed_date", a.AssessedDate, true); f != nil {
		bad = append(bad, *f)
	}
	if a.Kind == int(progressv1.AssessmentKind_ASSESSMENT_KIND_TEACHER_NOTE) && a.Score.Kind != store.Unscored {
		bad = append(bad, validate.Field{Path: prefix + "score", Description: "teacher notes are not scored"})
	}
	if a.Score.Kind == store.ScoredLetter && a.Score.Letter == "" {
		bad = append(bad, validate.Field{Path: prefix + "score.letter_grade", Description: "is empty"})
	}
	if a.Score.Kind == store.ScoredPoints {
		// Checked before anything is stored: a percentage that is not a
		// number, or too large to add up, would break every summary.
		if _, ok := summary.PointsPercent(a.Score.Earned, a.Score.Possible); !ok {
			bad = append(bad, validate.Field{Path: prefix + "score.points",
				Description: fmt.Sprintf("earned / possible x 100 must be a number from 0 to %.0f (earned at most %.0f times possible)",
					summary.MaxPercent, summary.MaxPercent/100)})
		}
	}
	return invalid(bad)
}

// CreateAssessment records an assessment; a replayed request id returns
// the first result.
func (s *server) CreateAssessment(ctx context.Context, req *progressv1.CreateAssessmentRequest) (*progressv1.Assessment, error) {
	cn, err := validate.Name("parent", req.GetParent(), names.ParseChild)
	if err != nil {
		return nil, err
	}
	childID := cn.ID
	in := req.GetAssessment()
	a := store.Assessment{
		ChildID: childID, ID: names.NewID(), Subject: strings.TrimSpace(in.Subject), Title: strings.TrimSpace(in.Title),
		Kind: int(in.Kind), Score: scoreFromProto(in.Score), AssessedDate: in.AssessedDate,
		TeacherComment: in.TeacherComment, RequestID: req.GetRequestId(),
	}
	if err := checkAssessment("assessment.", a); err != nil {
		return nil, err
	}
	p, draft, err := s.authorizeAuthor(ctx, childID)
	if err != nil {
		return nil, err
	}
	a.RecordedBy, a.State = p.Subject, publishState(draft)
	created, fresh, err := s.store.CreateAssessment(ctx, a, assessmentEvent(a))
	if err != nil {
		return nil, storeError(err, "assessment")
	}
	if fresh {
		s.notify()
	}
	scale, _, _, err := s.scale(ctx, childID)
	if err != nil {
		return nil, err
	}
	out := assessmentToProto(created, scale)
	s.assessmentReactions(ctx, childID, out)
	return out, nil
}

// GetAssessment returns one assessment.
func (s *server) GetAssessment(ctx context.Context, req *progressv1.GetAssessmentRequest) (*progressv1.Assessment, error) {
	rn, err := validate.Name("name", req.GetName(), names.ParseAssessment)
	if err != nil {
		return nil, err
	}
	childID, id := rn.Child, rn.ID
	seesDrafts, err := s.authorizeReader(ctx, childID)
	if err != nil {
		return nil, err
	}
	a, err := s.store.GetAssessment(ctx, childID, id)
	if err == nil && hidden(seesDrafts, a.Approval) {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, storeError(err, req.GetName())
	}
	scale, _, _, err := s.scale(ctx, childID)
	if err != nil {
		return nil, err
	}
	out := assessmentToProto(a, scale)
	s.assessmentReactions(ctx, childID, out)
	return out, nil
}

// ListAssessments pages through a child's assessments by (date, id).
func (s *server) ListAssessments(ctx context.Context, req *progressv1.ListAssessmentsRequest) (*progressv1.ListAssessmentsResponse, error) {
	cn, err := validate.Name("parent", req.GetParent(), names.ParseChild)
	if err != nil {
		return nil, err
	}
	childID := cn.ID
	if err := checkRange(req.GetStartDate(), req.GetEndDate()); err != nil {
		return nil, err
	}
	seesDrafts, err := s.authorizeReader(ctx, childID)
	if err != nil {
		return nil, err
	}
	state, none := listState(seesDrafts, req.GetState())
	if none {
		return &progressv1.ListAssessmentsResponse{}, nil
	}
	// The token is bound to the filters: a cursor means nothing under others.
	listing := fmt.Sprintf("assessments:%s:%q:%d:%s:%s:%d", childID, req.GetSubject(), req.GetKind(), req.GetStartDate(), req.GetEndDate(), state)
	tok, err := decodePageToken(req.GetPageToken(), listing)
	if err != nil {
		return nil, err
	}
	q := store.AssessmentQuery{ChildID: childID, Subject: req.GetSubject(), Kind: int(req.GetKind()),
		StartDate: req.GetStartDate(), EndDate: req.GetEndDate(), State: state, Limit: pagetoken.Size(req.GetPageSize()) + 1}
	if tok != nil {
		q.After = &store.DateCursor{Date: tok.AfterValue, ID: tok.AfterID}
	}
	rows, err := s.store.ListAssessments(ctx, q)
	if err != nil {
		return nil, storeError(err, "assessments")
	}
	scale, _, _, err := s.scale(ctx, childID)
	if err != nil {
		return nil, err
	}
	resp := &progressv1.ListAssessmentsResponse{}
	if len(rows) == q.Limit {
		rows = rows[:q.Limit-1]
		last := rows[len(rows)-1]
		resp.NextPageToken = pagetoken.Encode(listing, cursor{AfterValue: last.AssessedDate, AfterID: last.ID})
	}
	for _, a := range rows {
		resp.Assessments = append(resp.Assessments, assessmentToProto(a, scale))
	}
	s.assessmentReactions(ctx, childID, resp.Assessments...)
	return resp, nil
}

var assessmentUpdatable = updatable{
	fields: map[string]bool{"subject": true, "title": true, "kind": true, "score": true, "assessed_date": true, "teacher_comment": true},
	ignored: map[string]bool{"name": true, "etag": true, "recorded_by": true, "percent": true,
		"create_time": true, "update_time": true, "state": true, "approved_by": true, "approve_time": true},
}

// UpdateAssessment changes the masked fields of an assessment.
func (s *server) UpdateAssessment(ctx context.Context, req *progressv1.UpdateAssessmentRequest) (*progressv1.Assessment, error) {
	in := req.GetAssessment()
	rn, err := validate.Name("assessment.name", in.GetName(), names.ParseAssessment)
	if err != nil {
		return nil, err
	}
	childID, id := rn.Child, rn.ID
	rev, err := etag.Revision("assessment.etag", in.GetEtag())
	if err != nil {
		return nil, err
	}
	paths, err := assessmentUpdatable.paths(req.GetUpdateMask())
	if err != nil {
		return nil, err
	}
	p, draft, err := s.authorizeAuthor(ctx, childID)
	if err != nil {
		return nil, err
	}
	a, err := s.store.UpdateAssessment(ctx, childID, id, rev, func(a *store.Assessment) error {
		before := *a
		if paths["subject"] {
			a.Subject = strings.TrimSpace(in.Subject)
		}
		if paths["title"] {
			a.Title = strings.TrimSpace(in.Title)
		}
		if paths["kind"] {
			a.Kind = int(in.Kind)
		}
		if paths["score"] {
			a.Score = scoreFromProto(in.Score)
		}
		if paths["assessed_date"] {
			a.AssessedDate = in.AssessedDate
		}
		if paths["teacher_comment"] {
			a.TeacherComment = in.TeacherComment
		}
		if err := checkAssessment("assessment.", *a); err != nil {
			return err
		}
		// Every field this sets is one guardians see.
		if *a != before {
			afterEdit(&a.Approval, p, draft, a.RecordedBy)
		}
		return nil
	}, func(before, after store.Assessment) []outbox.Message {
		if !redrafted(before.Approval, after.Approval) {
			return nil
		}
		return []outbox.Message{assessmentEventBy(after, p.Subject)}
	})
	if err != nil {
		return nil, storeError(err, in.GetName())
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

// DeleteAssessment removes an assessment.
func (s *server) DeleteAssessment(ctx context.Context, req *progressv1.DeleteAssessmentRequest) (*emptypb.Empty, error) {
	rn, err := validate.Name("name", req.GetName(), names.ParseAssessment)
	if err != nil {
		return nil, err
	}
	childID, id := rn.Child, rn.ID
	rev, err := etag.Revision("etag", req.GetEtag())
	if err != nil {
		return nil, err
	}
	if _, err := s.authorizeChild(ctx, childID, store.RoleContributor); err != nil {
		return nil, err
	}
	if err := s.store.DeleteAssessment(ctx, childID, id, rev); err != nil {
		return nil, storeError(err, req.GetName())
	}
	return &emptypb.Empty{}, nil
}

func milestoneToProto(m store.Milestone) *progressv1.Milestone {
	state, approvedBy, approveTime := approvalFields(m.Approval)
	return &progressv1.Milestone{
		Name:         names.Milestone{Child: m.ChildID, ID: m.ID}.String(),
		Title:        m.Title,
		Description:  m.Description,
		Category:     progressv1.MilestoneCategory(m.Category),
		AchievedDate: m.AchievedDate,
		RecordedBy:   m.RecordedBy,
		CreateTime:   timestamppb.New(m.CreateTime),
		UpdateTime:   timestamppb.New(m.UpdateTime),
		Etag:         etag.Of(m.Revision),
		State:        state,
		ApprovedBy:   approvedBy,
		ApproveTime:  approveTime,
	}
}

func checkMilestone(prefix string, m store.Milestone) error {
	var bad []validate.Field
	if strings.TrimSpace(m.Title) == "" {
		bad = append(bad, validate.Field{Path: prefix + "title", Description: "is required"})
	}
	if f := checkDate(prefix+"achieved_date", m.AchievedDate, true); f != nil {
		bad = append(bad, *f)
	}
	return invalid(bad)
}

// CreateMilestone records a milestone; a replayed request id returns the
// first result.
func (s *server) CreateMilestone(ctx context.Context, req *progressv1.CreateMilestoneRequest) (*progressv1.Milestone, error) {
	cn, err := validate.Name("parent", req.GetParent(), names.ParseChild)
	if err != nil {
		return nil, err
	}
	childID := cn.ID
	in := req.GetMilestone()
	m := store.Milestone{ChildID: childID, ID: names.NewID(), Title: strings.TrimSpace(in.Title), Description: in.Description,
		Category: int(in.Category), AchievedDate: in.AchievedDate, RequestID: req.GetRequestId()}
	if err := checkMilestone("milestone.", m); err != nil {
		return nil, err
	}
	p, draft, err := s.authorizeAuthor(ctx, childID)
	if err != nil {
		return nil, err
	}
	m.RecordedBy, m.State = p.Subject, publishState(draft)
	created, fresh, err := s.store.CreateMilestone(ctx, m, milestoneEvent(m))
	if err != nil {
		return nil, storeError(err, "milestone")
	}
	if fresh {
		s.notify()
	}
	out := milestoneToProto(created)
	s.milestoneReactions(ctx, childID, out)
	return out, nil
}

// GetMilestone returns one milestone.
func (s *server) GetMilestone(ctx context.Context, req *progressv1.GetMilestoneRequest) (*progressv1.Milestone, error) {
	rn, err := validate.Name("name", req.GetName(), names.ParseMilestone)
	if err != nil {
		return nil, err
	}
	childID, id := rn.Child, rn.ID
	seesDrafts, err := s.authorizeReader(ctx, childID)
	if err != nil {
		return nil, err
	}
	m, err := s.store.GetMilestone(ctx, childID, id)
	if err == nil && hidden(seesDrafts, m.Approval) {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, storeError(err, req.GetName())
	}
	out := milestoneToProto(m)
	s.milestoneReactions(ctx, childID, out)
	return out, nil
}

// ListMilestones pages through a child's milestones by (date, id).
func (s *server) ListMilestones(ctx context.Context, req *progressv1.ListMilestonesRequest) (*progressv1.ListMilestonesResponse, error) {
	cn, err := validate.Name("parent", req.GetParent(), names.ParseChild)
	if err != nil {
		return nil, err
	}
	childID := cn.ID
	if err := checkRange(req.GetStartDate(), req.GetEndDate()); err != nil {
		return nil, err
	}
	seesDrafts, err := s.authorizeReader(ctx, childID)
	if err != nil {
		return nil, err
	}
	state, none := listState(seesDrafts, req.GetState())
	if none {
		return &progressv1.ListMilestonesResponse{}, nil
	}
	listing := fmt.Sprintf("milestones:%s:%d:%s:%s:%d", childID, req.GetCategory(), req.GetStartDate(), req.GetEndDate(), state)
	tok, err := decodePageToken(req.GetPageToken(), listing)
	if err != nil {
		return nil, err
	}
	q := store.MilestoneQuery{ChildID: childID, Category: int(req.GetCategory()), StartDate: req.GetStartDate(),
		EndDate: req.GetEndDate(), State: state, Limit: pagetoken.Size(req.GetPageSize()) + 1}
	if tok != nil {
		q.After = &store.DateCursor{Date: tok.AfterValue, ID: tok.AfterID}
	}
	rows, err := s.store.ListMilestones(ctx, q)
	if err != nil {
		return nil, storeError(err, "milestones")
	}
	resp := &progressv1.ListMilestonesResponse{}
	if len(rows) == q.Limit {
		rows = rows[:q.Limit-1]
		last := rows[len(rows)-1]
		resp.NextPageToken = pagetoken.Encode(listing, cursor{AfterValue: last.AchievedDate, AfterID: last.ID})
	}
	for _, m := range rows {
		resp.Milestones = append(resp.Milestones, milestoneToProto(m))
	}
	s.milestoneReactions(ctx, childID, resp.Milestones...)
	return resp, nil
}

var milestoneUpdatable = updatable{
	fields: map[string]bool{"title": true, "description": true, "category": true, "achieved_date": true},
	ignored: map[string]bool{"name": true, "etag": true, "recorded_by": true, "create_time": true, "update_time": true,
		"state": true, "approved_by": true, "approve_time": true},
}

// UpdateMilestone changes the masked fields of a milestone.
func (s *server) UpdateMilestone(ctx context.Context, req *progressv1.UpdateMilestoneRequest) (*progressv1.Milestone, error) {
	in := req.GetMilestone()
	rn, err := validate.Name("milestone.name", in.GetName(), names.ParseMilestone)
	if err != nil {
		return nil, err
	}
	childID, id := rn.Child, rn.ID
	rev, err := etag.Revision("milestone.etag", in.GetEtag())
	if err != nil {
		return nil, err
	}
	paths, err := milestoneUpdatable.paths(req.GetUpdateMask())
	if err != nil {
		return nil, err
	}
	p, draft, err := s.authorizeAuthor(ctx, childID)
	if err != nil {
		return nil, err
	}
	m, err := s.store.UpdateMilestone(ctx, childID, id, rev, func(m *store.Milestone) error {
		before := *m
		if paths["title"] {
			m.Title = strings.TrimSpace(in.Title)
		}
		if paths["description"] {
			m.Description = in.Description
		}
		if paths["category"] {
			m.Category = int(in.Category)
		}
		if paths["achieved_date"] {
			m.AchievedDate = in.AchievedDate
		}
		if err := checkMilestone("milestone.", *m); err != nil {
			return err
		}
		if *m != before {
			afterEdit(&m.Approval, p, draft, m.RecordedBy)
		}
		return nil
	}, func(before, after store.Milestone) []outbox.Message {
		if !redrafted(before.Approval, after.Approval) {
			return nil
		}
		return []outbox.Message{milestoneEventBy(after, p.Subject)}
	})
	if err != nil {
		return nil, storeError(err, in.GetName())
	}
	s.notify()
	out := milestoneToProto(m)
	s.milestoneReactions(ctx, childID, out)
	return out, nil
}

// DeleteMilestone removes a milestone.
func (s *server) DeleteMilestone(ctx context.Context, req *progressv1.DeleteMilestoneRequest) (*emptypb.Empty, error) {
	rn, err := validate.Name("name", req.GetName(), names.ParseMilestone)
	if err != nil {
		return nil, err
	}
	childID, id := rn.Child, rn.ID
	rev, err := etag.Revision("etag", req.GetEtag())
	if err != nil {
		return nil, err
	}
	if _, err := s.authorizeChild(ctx, childID, store.RoleContributor); err != nil {
		return nil, err
	}
	if err := s.store.DeleteMilestone(ctx, childID, id, rev); err != nil {
		return nil, storeError(err, req.GetName())
	}
	return &emptypb.Empty{}, nil
}

func gradingScaleToProto(childID string, grades []summary.Grade, gs store.GradingScale, own bool) *progressv1.GradingScale {
	out := &progressv1.GradingScale{Name: names.GradingScale{Child: childID}.String()}
	for _, g := range grades {
		out.Grades = append(out.Grades, &progressv1.GradeMapping{Letter: g.Letter, Percent: g.Percent})
	}
	if own {
		out.UpdateTime = timestamppb.New(gs.UpdateTime)
		out.Etag = etag.Of(gs.Revision)
	}
	return out
}

// GetGradingScale returns the child's scale, the default until one is set.
func (s *server) GetGradingScale(ctx context.Context, req *progressv1.GetGradingScaleRequest) (*progressv1.GradingScale, error) {
	sn, err := validate.Name("name", req.GetName(), names.ParseGradingScale)
	if err != nil {
		return nil, err
	}
	childID := sn.Child
	if _, err := s.authorizeChild(ctx, childID, store.RoleGuardian); err != nil {
		return nil, err
	}
	grades, gs, own, err := s.scale(ctx, childID)
	if err != nil {
		return nil, err
	}
	return gradingScaleToProto(childID, grades, gs, own), nil
}

// UpdateGradingScale replaces the child's scale.
func (s *server) UpdateGradingScale(ctx context.Context, req *progressv1.UpdateGradingScaleRequest) (*progressv1.GradingScale, error) {
	in := req.GetGradingScale()
	sn, err := validate.Name("grading_scale.name", in.GetName(), names.ParseGradingScale)
	if err != nil {
		return nil, err
	}
	childID := sn.Child
	rev, err := etag.Revision("grading_scale.etag", in.GetEtag())
	if err != nil {
		return nil, err
	}
	var grades []summary.Grade
	var bad []validate.Field
	seen := map[string]bool{}
	for i, g := range in.GetGrades() {
		letter := strings.TrimSpace(g.GetLetter())
		key := strings.ToUpper(letter)
		if letter == "" || seen[key] {
			bad = append(bad, validate.Field{Path: fmt.Sprintf("grading_scale.grades[%d].letter", i), Description: "must be a letter not already on the scale"})
		}
		seen[key] = true
		grades = append(grades, summary.Grade{Letter: letter, Percent: g.GetPercent()})
	}
	if err := invalid(bad); err != nil {
		return nil, err
	}
	if _, err := s.authorizeChild(ctx, childID, store.RoleContributor); err != nil {
		return nil, err
	}
	gs, err := s.store.SetGradingScale(ctx, childID, grades, rev)
	if err != nil {
		return nil, storeError(err, in.GetName())
	}
	return gradingScaleToProto(childID, gs.Grades, gs, true), nil
}
