package validate_test

import (
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
	"github.com/kinbridge/kinbridge/pkg/names"
	"github.com/kinbridge/kinbridge/pkg/validate"
)

func TestCheck(t *testing.T) {
	v, err := validate.New()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		msg    any
		fields []string
	}{
		{"valid", &progressv1.CreateChildRequest{Child: &progressv1.Child{DisplayName: "Ada"}}, nil},
		{"missing required message", &progressv1.CreateChildRequest{}, []string{"child"}},
		{"empty display name", &progressv1.CreateChildRequest{Child: &progressv1.Child{}}, []string{"child.display_name"}},
		// A create-only requirement points at its field, not the message.
		{"guardianship without user or role", &progressv1.CreateGuardianshipRequest{Parent: "children/abc", Guardianship: &progressv1.Guardianship{}},
			[]string{"guardianship.user", "guardianship.role"}},
		{"guardianship without a role", &progressv1.CreateGuardianshipRequest{Parent: "children/abc", Guardianship: &progressv1.Guardianship{User: "maria"}},
			[]string{"guardianship.role"}},
		{"subscription without a child", &notificationv1.CreateSubscriptionRequest{Parent: "users/me", Subscription: &notificationv1.Subscription{}},
			[]string{"subscription.child"}},
		{"display name too long", &progressv1.CreateChildRequest{Child: &progressv1.Child{DisplayName: strings.Repeat("a", 101)}}, []string{"child.display_name"}},
		{"bad name and page size", &progressv1.ListGuardianshipsRequest{Parent: "kids/1", PageSize: 5000},
			[]string{"parent", "page_size"}},
		{"not a proto message", "plain", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := v.Check(tt.msg)
			if len(tt.fields) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			st := status.Convert(err)
			if st.Code() != codes.InvalidArgument {
				t.Fatalf("code = %v, want InvalidArgument (%v)", st.Code(), err)
			}
			var got []string
			for _, d := range st.Details() {
				if br, ok := d.(*errdetails.BadRequest); ok {
					for _, fv := range br.FieldViolations {
						got = append(got, fv.Field)
						if fv.Description == "" {
							t.Errorf("field %s has no description", fv.Field)
						}
					}
				}
			}
			if len(got) != len(tt.fields) {
				t.Fatalf("violations = %v, want %v", got, tt.fields)
			}
			for i := range got {
				if got[i] != tt.fields[i] {
					t.Errorf("violation %d = %s, want %s", i, got[i], tt.fields[i])
				}
			}
		})
	}
}

func TestName(t *testing.T) {
	if n, err := validate.Name("name", "children/abc/assessments/x", names.ParseAssessment); err != nil || n != (names.Assessment{Child: "abc", ID: "x"}) {
		t.Fatalf("a good name: %v, %v", n, err)
	}
	_, err := validate.Name("assessment.name", "children/abc/assessments/SECRET!", names.ParseAssessment)
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument {
		t.Fatalf("code = %v, want InvalidArgument", st.Code())
	}
	var fvs []*errdetails.BadRequest_FieldViolation
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			fvs = append(fvs, br.GetFieldViolations()...)
		}
	}
	if len(fvs) != 1 || fvs[0].GetField() != "assessment.name" {
		t.Fatalf("violations = %v, want one on assessment.name", fvs)
	}
	d := fvs[0].GetDescription()
	if !strings.HasPrefix(d, "must look like children/{child}/assessments/{assessment}") || strings.Contains(d, "SECRET") {
		t.Errorf("description %q: want the pattern, not the input", d)
	}
}
