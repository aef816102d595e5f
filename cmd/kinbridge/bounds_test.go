package main

import (
	"context"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
	"github.com/kinbridge/kinbridge/pkg/testenv"
)

// grpcViolates reports whether err is INVALID_ARGUMENT with a BadRequest
// field violation on field.
func grpcViolates(err error, field string) bool {
	return status.Code(err) == codes.InvalidArgument && slices.Contains(testenv.FieldViolations(err), field)
}

// TestDatesOutsideTheRangeAreRefused: every date of the progress API, on
// gRPC and REST, takes days from 1900-01-01 to 2199-12-31 and refuses the
// others with INVALID_ARGUMENT and a field violation, storing nothing.
func TestDatesOutsideTheRangeAreRefused(t *testing.T) {
	s := startSuite(t)
	child := s.family(t)
	teacher := s.userToken(t, "teacher", false)
	client, auth := s.grpcClient(t, teacher)
	admin, adminAuth := s.grpcClient(t, s.adminToken)

	dates := []struct {
		day string
		ok  bool
	}{
		{"1899-12-31", false},
		{"1900-01-01", true},
		{"2199-12-31", true},
		{"2200-01-01", false},
		{"0000-01-01", false},
		{"9999-12-31", false},
	}
	recorded := 0 // assessments and milestones each
	for _, d := range dates {
		t.Run(d.day, func(t *testing.T) {
			wantREST := func(what string, r response, field string) {
				t.Helper()
				switch {
				case d.ok && r.status != 200:
					t.Errorf("%s: %d %s, want 200", what, r.status, r.body)
				case !d.ok && (r.status != 400 || !hasFieldViolation(t, r, field)):
					t.Errorf("%s: %d %s, want 400 with a violation of %s", what, r.status, r.body, field)
				}
			}
			wantGRPC := func(what string, err error, field string) {
				t.Helper()
				switch {
				case d.ok && err != nil:
					t.Errorf("%s: %v, want OK", what, err)
				case !d.ok && !grpcViolates(err, field):
					t.Errorf("%s: %v, want INVALID_ARGUMENT with a violation of %s", what, err, field)
				}
			}
			// Birth dates: also never in the future, so only the past
			// bound can be accepted.
			birthOK := d.ok && d.day < "2100-01-01"
			r := s.call(t, "POST", "/v1/children", s.adminToken, `{"displayName":"Eve","birthDate":"`+d.day+`"}`)
			if birthOK != (r.status == 200) || (!birthOK && !hasFieldViolation(t, r, "child.birthDate")) {
				t.Errorf("REST birth date: %d %s", r.status, r.body)
			}
			_, err := admin.CreateChild(adminAuth(t.Context()), &progressv1.CreateChildRequest{Child: &progressv1.Child{DisplayName: "Eve", BirthDate: d.day}})
			if birthOK != (err == nil) || (!birthOK && !grpcViolates(err, "child.birth_date")) {
				t.Errorf("gRPC birth date: %v", err)
			}
			r = s.call(t, "PATCH", "/v1/"+child+"?updateMask=birthDate", s.adminToken, `{"birthDate":"`+d.day+`"}`)
			if birthOK != (r.status == 200) {
				t.Errorf("REST birth date update: %d %s", r.status, r.body)
			}

			wantREST("REST assessment", s.call(t, "POST", "/v1/"+child+"/assessments", teacher,
				`{"subject":"Math","title":"Quiz","kind":"ASSESSMENT_KIND_TEST","assessedDate":"`+d.day+`"}`), "assessment.assessedDate")
			_, err = client.CreateAssessment(auth(t.Context()), &progressv1.CreateAssessmentRequest{Parent: child, Assessment: &progressv1.Assessment{
				Subject: "Math", Title: "Quiz", Kind: progressv1.AssessmentKind_ASSESSMENT_KIND_TEST, AssessedDate: d.day}})
			wantGRPC("gRPC assessment", err, "assessment.assessed_date")
			wantREST("REST milestone", s.call(t, "POST", "/v1/"+child+"/milestones", teacher,
				`{"title":"Swam","achievedDate":"`+d.day+`"}`), "milestone.achievedDate")
			_, err = client.CreateMilestone(auth(t.Context()), &progressv1.CreateMilestoneRequest{Parent: child, Milestone: &progressv1.Milestone{
				Title: "Swam", AchievedDate: d.day}})
			wantGRPC("gRPC milestone", err, "milestone.achieved_date")
			if d.ok {
				recorded += 2
			}

			for _, q := range []string{"startDate", "endDate"} {
				query := "?" + q + "=" + url.QueryEscape(d.day)
				wantREST("REST assessments "+q, s.call(t, "GET", "/v1/"+child+"/assessments"+query, teacher, ""), q)
				wantREST("REST milestones "+q, s.call(t, "GET", "/v1/"+child+"/milestones"+query, teacher, ""), q)
				wantREST("REST summary "+q, s.call(t, "GET", "/v1/"+child+"/progressSummary"+query, teacher, ""), q)
			}
			ctx := auth(t.Context())
			_, err = client.ListAssessments(ctx, &progressv1.ListAssessmentsRequest{Parent: child, StartDate: d.day})
			wantGRPC("gRPC assessments start_date", err, "start_date")
			_, err = client.ListAssessments(ctx, &progressv1.ListAssessmentsRequest{Parent: child, EndDate: d.day})
			wantGRPC("gRPC assessments end_date", err, "end_date")
			_, err = client.ListMilestones(ctx, &progressv1.ListMilestonesRequest{Parent: child, StartDate: d.day})
			wantGRPC("gRPC milestones start_date", err, "start_date")
			_, err = client.ListMilestones(ctx, &progressv1.ListMilestonesRequest{Parent: child, EndDate: d.day})
			wantGRPC("gRPC milestones end_date", err, "end_date")
			_, err = client.GetProgressSummary(ctx, &progressv1.GetProgressSummaryRequest{Name: child + "/progressSummary", StartDate: d.day})
			wantGRPC("gRPC summary start_date", err, "start_date")
			_, err = client.GetProgressSummary(ctx, &progressv1.GetProgressSummaryRequest{Name: child + "/progressSummary", EndDate: d.day})
			wantGRPC("gRPC summary end_date", err, "end_date")
		})
	}

	// Nothing refused was stored.
	for _, what := range []string{"assessments", "milestones"} {
		list := s.call(t, "GET", "/v1/"+child+"/"+what, teacher, "").json(t)
		if n, _ := list[what].([]any); len(n) != recorded {
			t.Errorf("%d %s stored, want %d", len(n), what, recorded)
		}
	}
}

// finite reports whether every number in a summary is finite.
func finiteSummary(t *testing.T, sum *progressv1.ProgressSummary) bool {
	t.Helper()
	ok := true
	for _, st := range append(sum.GetSubjects(), sum.GetOverall()) {
		for name, v := range map[string]*float64{"latest_percent": st.LatestPercent, "mean_percent": st.MeanPercent, "trend": st.Trend} {
			if v != nil && (math.IsInf(*v, 0) || math.IsNaN(*v)) {
				t.Errorf("summary %q %s = %v", st.GetSubject(), name, *v)
				ok = false
			}
		}
	}
	return ok
}

// TestScoresThatBreakSummariesAreRefused: a points score whose percentage
// is not a finite number from 0 to 1,000,000 (1e308 out of 1e-300, NaN,
// infinities) is refused with INVALID_ARGUMENT and a field violation before
// anything is stored, on create and update, over gRPC and REST; the
// largest scores allowed, over the widest span of dates, leave the summary
// finite.
func TestScoresThatBreakSummariesAreRefused(t *testing.T) {
	s := startSuite(t)
	child := s.family(t)
	teacher := s.userToken(t, "teacher", false)
	client, auth := s.grpcClient(t, teacher)

	// What the JSON of a score is, and the violation's field.
	rest := []struct{ points, field string }{
		{`{"earned":1e308,"possible":1e-300}`, "assessment.score.points"},
		{`{"earned":1e300,"possible":1e-10}`, "assessment.score.points"},
		{`{"earned":1,"possible":5e-324}`, "assessment.score.points"},
		{`{"earned":10000.5,"possible":1}`, "assessment.score.points"},
		{`{"earned":"NaN","possible":10}`, "assessment.score.points.earned"},
		{`{"earned":"Infinity","possible":10}`, "assessment.score.points.earned"},
		{`{"earned":5,"possible":"NaN"}`, "assessment.score.points.possible"},
		{`{"earned":5,"possible":"Infinity"}`, "assessment.score.points.possible"},
	}
	for _, c := range rest {
		r := s.call(t, "POST", "/v1/"+child+"/assessments", teacher,
			`{"subject":"Math","title":"Quiz","kind":"ASSESSMENT_KIND_TEST","assessedDate":"2026-03-01","score":{"points":`+c.points+`}}`)
		if r.status != 400 || !hasFieldViolation(t, r, c.field) {
			t.Errorf("REST %s: %d %s, want 400 with a violation of %s", c.points, r.status, r.body, c.field)
		}
	}
	grpcScores := []struct {
		earned, possible float64
		field            string
	}{
		{1e308, 1e-300, "assessment.score.points"},
		{math.MaxFloat64, 1, "assessment.score.points"},
		{math.NaN(), 10, "assessment.score.points.earned"},
		{math.Inf(1), 10, "assessment.score.points.earned"},
		{math.Inf(-1), 10, "assessment.score.points.earned"},
		{5, math.NaN(), "assessment.score.points.possible"},
		{5, math.Inf(1), "assessment.score.points.possible"},
	}
	for _, c := range grpcScores {
		_, err := client.CreateAssessment(auth(t.Context()), &progressv1.CreateAssessmentRequest{Parent: child, Assessment: &progressv1.Assessment{
			Subject: "Math", Title: "Quiz", Kind: progressv1.AssessmentKind_ASSESSMENT_KIND_TEST, AssessedDate: "2026-03-01",
			Score: &progressv1.Score{Value: &progressv1.Score_Points{Points: &progressv1.Points{Earned: c.earned, Possible: c.possible}}}}})
		if !grpcViolates(err, c.field) {
			t.Errorf("gRPC %v/%v: %v, want INVALID_ARGUMENT with a violation of %s", c.earned, c.possible, err, c.field)
		}
	}

	// The largest scores allowed, on the first and last days there are.
	for i, day := range []string{"1900-01-01", "2199-12-31", "1900-01-01", "2199-12-31"} {
		earned := []string{"10000", "0", "1e-300", "1e300"}[i]
		possible := []string{"1", "1", "1e-300", "1e300"}[i]
		r := s.call(t, "POST", "/v1/"+child+"/assessments", teacher, fmt.Sprintf(
			`{"subject":"Math","title":"Edge %d","kind":"ASSESSMENT_KIND_TEST","assessedDate":%q,"score":{"points":{"earned":%s,"possible":%s}}}`,
			i, day, earned, possible))
		if r.status != 200 {
			t.Fatalf("an allowed score %s/%s: %d %s", earned, possible, r.status, r.body)
		}
	}
	list := s.call(t, "GET", "/v1/"+child+"/assessments", teacher, "").json(t)["assessments"].([]any)
	if len(list) != 4 {
		t.Fatalf("%d assessments stored, want the 4 allowed", len(list))
	}
	// An update to a score that breaks summaries is refused and changes nothing.
	first := list[0].(map[string]any)
	before := s.call(t, "GET", "/v1/"+first["name"].(string), teacher, "").body
	r := s.call(t, "PATCH", "/v1/"+first["name"].(string)+"?updateMask=score", teacher, `{"score":{"points":{"earned":1e308,"possible":1e-300}}}`)
	if r.status != 400 || !hasFieldViolation(t, r, "assessment.score.points") {
		t.Errorf("REST update: %d %s", r.status, r.body)
	}
	_, err := client.UpdateAssessment(auth(t.Context()), &progressv1.UpdateAssessmentRequest{
		Assessment: &progressv1.Assessment{Name: first["name"].(string),
			Score: &progressv1.Score{Value: &progressv1.Score_Points{Points: &progressv1.Points{Earned: 1e308, Possible: 1e-300}}}},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"score"}}})
	if !grpcViolates(err, "assessment.score.points") {
		t.Errorf("gRPC update: %v", err)
	}
	if after := s.call(t, "GET", "/v1/"+first["name"].(string), teacher, "").body; string(after) != string(before) {
		t.Errorf("a refused update changed the assessment:\n%s\n%s", before, after)
	}

	// The summary stays finite, over REST (JSON numbers, not "Infinity"
	// strings) and gRPC.
	r = s.call(t, "GET", "/v1/"+child+"/progressSummary", teacher, "")
	if r.status != 200 || strings.Contains(string(r.body), "Infinity") || strings.Contains(string(r.body), "NaN") {
		t.Fatalf("summary: %d %s", r.status, r.body)
	}
	var sum progressv1.ProgressSummary
	if err := protojson.Unmarshal(r.body, &sum); err != nil {
		t.Fatal(err)
	}
	if sum.GetOverall().GetScoredCount() != 4 || sum.GetOverall().Trend == nil || !finiteSummary(t, &sum) {
		t.Errorf("summary over REST: %s", r.body)
	}
	got, err := client.GetProgressSummary(auth(context.Background()), &progressv1.GetProgressSummaryRequest{Name: child + "/progressSummary"})
	if err != nil || !finiteSummary(t, got) {
		t.Errorf("summary over gRPC: %v %v", got, err)
	}
}
