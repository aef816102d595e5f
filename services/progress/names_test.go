package progress

import (
	"context"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
)

// TestMalformedNamesAreInvalidArgument: every RPC parses its names (with
// pkg/names) before it touches the store, and a malformed one is
// INVALID_ARGUMENT on the field that holds it. The names inside an update's
// resource have no pattern in the contract, so this is where an id outside
// the contract's charset ("ABC") is refused, as Get refuses it.
func TestMalformedNamesAreInvalidArgument(t *testing.T) {
	s := &server{} // no store: a parse that let a name through would panic
	ctx := context.Background()
	for _, tt := range []struct {
		field string
		call  func() error
	}{
		{"name", func() error { _, err := s.GetChild(ctx, &progressv1.GetChildRequest{Name: "children/a/b"}); return err }},
		{"child.name", func() error {
			_, err := s.UpdateChild(ctx, &progressv1.UpdateChildRequest{Child: &progressv1.Child{Name: "children/ABC"}})
			return err
		}},
		{"guardianship.name", func() error {
			_, err := s.UpdateGuardianship(ctx, &progressv1.UpdateGuardianshipRequest{Guardianship: &progressv1.Guardianship{Name: "children/abc/guardian/u"}})
			return err
		}},
		{"assessment.name", func() error {
			_, err := s.UpdateAssessment(ctx, &progressv1.UpdateAssessmentRequest{Assessment: &progressv1.Assessment{Name: "children/abc/milestones/x"}})
			return err
		}},
		{"milestone.name", func() error {
			_, err := s.UpdateMilestone(ctx, &progressv1.UpdateMilestoneRequest{Milestone: &progressv1.Milestone{Name: "children/abc/milestones/X"}})
			return err
		}},
		{"grading_scale.name", func() error {
			_, err := s.UpdateGradingScale(ctx, &progressv1.UpdateGradingScaleRequest{GradingScale: &progressv1.GradingScale{Name: "children//gradingScale"}})
			return err
		}},
		{"name", func() error {
			_, err := s.GetProgressSummary(ctx, &progressv1.GetProgressSummaryRequest{Name: "children/abc/gradingScale"})
			return err
		}},
		{"parent", func() error {
			_, err := s.ListAssessments(ctx, &progressv1.ListAssessmentsRequest{Parent: "users/abc"})
			return err
		}},
		{"name", func() error {
			_, err := s.GetUser(ctx, &progressv1.GetUserRequest{Name: "users/me/notifications"})
			return err
		}},
	} {
		st := status.Convert(tt.call())
		var fields []string
		for _, d := range st.Details() {
			if br, ok := d.(*errdetails.BadRequest); ok {
				for _, fv := range br.GetFieldViolations() {
					fields = append(fields, fv.GetField())
				}
			}
		}
		if st.Code() != codes.InvalidArgument || len(fields) != 1 || fields[0] != tt.field {
			t.Errorf("%s: %v, violations %v; want INVALID_ARGUMENT on %s", tt.field, st.Err(), fields, tt.field)
		}
	}
}
