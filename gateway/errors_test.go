package gateway

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"

	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
	"github.com/kinbridge/kinbridge/pkg/auth"
	"github.com/kinbridge/kinbridge/pkg/validate"
)

func TestJSONPath(t *testing.T) {
	create := (&progressv1.CreateMilestoneRequest{}).ProtoReflect().Descriptor()
	scale := (&progressv1.UpdateGradingScaleRequest{}).ProtoReflect().Descriptor()
	assessment := (&progressv1.CreateAssessmentRequest{}).ProtoReflect().Descriptor()
	list := (&progressv1.ListAssessmentsRequest{}).ProtoReflect().Descriptor()
	tests := []struct {
		name, path, want string
		request          protoreflect.MessageDescriptor
	}{
		{"top level", "page_size", "pageSize", list},
		{"nested", "milestone.achieved_date", "milestone.achievedDate", create},
		{"two levels", "assessment.score.letter_grade", "assessment.score.letterGrade", assessment},
		{"three levels", "assessment.score.points.earned", "assessment.score.points.earned", assessment},
		{"indexed", "grading_scale.grades[1].letter", "gradingScale.grades[1].letter", scale},
		{"index last", "grading_scale.grades[12]", "gradingScale.grades[12]", scale},
		{"already JSON", "gradingScale.grades[0].letter", "gradingScale.grades[0].letter", scale},
		{"unknown field: the rest is kept", "grading_scale.no_such.other_field", "gradingScale.no_such.other_field", scale},
		{"unclosed subscript: the rest is kept", `grading_scale.grades["a.b_c`, `gradingScale.grades["a.b_c`, scale},
		{"quoted subscript", `grading_scale.grades["a].b"].letter`, `gradingScale.grades["a].b"].letter`, scale},
		{"empty", "", "", scale},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := jsonPath(tt.request, tt.path); got != tt.want {
				t.Errorf("jsonPath(%s, %q) = %q, want %q", tt.request.Name(), tt.path, got, tt.want)
			}
		})
	}
}

// validatedProgress is the progress service's API behind the real
// validation interceptor: every request below is refused by the rules in
// the protos before any method would run.
func validatedProgress(t *testing.T) string {
	t.Helper()
	v, err := validate.New()
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer(grpc.UnaryInterceptor(v.UnaryServerInterceptor()))
	progressv1.RegisterProgressServiceServer(gs, progressv1.UnimplementedProgressServiceServer{})
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)
	return lis.Addr().String()
}

func violations(t *testing.T, st *status.Status) []string {
	t.Helper()
	var fields []string
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, fv := range br.GetFieldViolations() {
				fields = append(fields, fv.GetField())
			}
		}
	}
	return fields
}

// The same refusal names proto paths over gRPC and JSON paths over REST.
func TestFieldViolationsNameJSONPathsOverREST(t *testing.T) {
	target := validatedProgress(t)
	userPub, userKey, _ := ed25519.GenerateKey(rand.Reader)
	servicePub, _, _ := ed25519.GenerateKey(rand.Reader)
	verifier, err := auth.NewVerifier(auth.VerifierConfig{UserKey: userPub, ServiceKey: servicePub})
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(context.Background(), Config{ProgressTarget: target, Verifier: verifier, Timeout: 10 * time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	srv := httptest.NewServer(g.Handler())
	t.Cleanup(srv.Close)
	token, err := auth.NewUserIssuer(userKey).Issue("maria", false, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	client := progressv1.NewProgressServiceClient(conn)

	tests := []struct {
		name         string
		method, path string
		body         string
		grpc         func() error
		protoPath    string
		jsonPath     string
	}{
		{
			name: "nested", method: "POST", path: "/v1/children/ada/milestones",
			body: `{"title": "Read alone", "achievedDate": "1800-01-01"}`,
			grpc: func() error {
				_, err := client.CreateMilestone(context.Background(), &progressv1.CreateMilestoneRequest{Parent: "children/ada",
					Milestone: &progressv1.Milestone{Title: "Read alone", AchievedDate: "1800-01-01"}})
				return err
			},
			protoPath: "milestone.achieved_date", jsonPath: "milestone.achievedDate",
		},
		{
			name: "repeated, indexed", method: "PATCH", path: "/v1/children/ada/gradingScale",
			body: `{"grades": [{"letter": "A", "percent": 90}, {"letter": "", "percent": 50}]}`,
			grpc: func() error {
				_, err := client.UpdateGradingScale(context.Background(), &progressv1.UpdateGradingScaleRequest{GradingScale: &progressv1.GradingScale{
					Name: "children/ada/gradingScale", Grades: []*progressv1.GradeMapping{{Letter: "A", Percent: 90}, {Letter: "", Percent: 50}}}})
				return err
			},
			protoPath: "grading_scale.grades[1].letter", jsonPath: "gradingScale.grades[1].letter",
		},
		{
			name: "query parameter", method: "GET", path: "/v1/children/ada/assessments?pageSize=5000",
			grpc: func() error {
				_, err := client.ListAssessments(context.Background(), &progressv1.ListAssessmentsRequest{Parent: "children/ada", PageSize: 5000})
				return err
			},
			protoPath: "page_size", jsonPath: "pageSize",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := status.Convert(tt.grpc())
			if got := violations(t, st); len(got) != 1 || got[0] != tt.protoPath {
				t.Errorf("gRPC violations %v, want [%s] (%v)", got, tt.protoPath, st.Err())
			}

			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, bytes.NewReader([]byte(tt.body)))
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("REST status %d: %s", resp.StatusCode, raw)
			}
			var body struct {
				Message string `json:"message"`
				Details []struct {
					Type            string `json:"@type"`
					FieldViolations []struct {
						Field string `json:"field"`
					} `json:"fieldViolations"`
				} `json:"details"`
			}
			if err := json.Unmarshal(raw, &body); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range body.Details {
				for _, fv := range d.FieldViolations {
					got = append(got, fv.Field)
				}
			}
			if len(got) != 1 || got[0] != tt.jsonPath {
				t.Errorf("REST violations %v, want [%s]: %s", got, tt.jsonPath, raw)
			}
			if !strings.Contains(body.Message, tt.jsonPath+": ") || strings.Contains(body.Message, tt.protoPath+": ") && tt.protoPath != tt.jsonPath {
				t.Errorf("REST message %q names the field otherwise than its details", body.Message)
			}
		})
	}
}
