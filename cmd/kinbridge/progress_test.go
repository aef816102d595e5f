package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
)

// grpcClient returns a ProgressService client that sends token.
func (s *suite) grpcClient(t *testing.T, token string) (progressv1.ProgressServiceClient, func(context.Context) context.Context) {
	t.Helper()
	conn, err := grpc.NewClient(s.progress, s.transport())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return progressv1.NewProgressServiceClient(conn), func(ctx context.Context) context.Context {
		return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
	}
}

func TestRecordingAndReadingProgress(t *testing.T) {
	s := startSuite(t)
	child := s.family(t) // maria is a guardian, teacher a contributor
	teacher := s.userToken(t, "teacher", false)
	maria := s.userToken(t, "maria", false)
	olga := s.userToken(t, "olga", false)

	// The contributor records over REST...
	a := s.mustCreate(t, "/v1/"+child+"/assessments", teacher,
		`{"subject":"Math","title":"Fractions","kind":"ASSESSMENT_KIND_TEST","assessedDate":"2026-03-01","score":{"points":{"earned":18,"possible":20}},"teacherComment":"Great work"}`)
	if a["percent"] != 90.0 || a["recordedBy"] != "teacher" {
		t.Fatalf("recorded %v", a)
	}
	s.mustCreate(t, "/v1/"+child+"/milestones", teacher,
		`{"title":"Read a chapter book alone","category":"MILESTONE_CATEGORY_ACADEMIC","achievedDate":"2026-03-10"}`)
	// ...and over gRPC.
	client, auth := s.grpcClient(t, teacher)
	ctx := auth(context.Background())
	if _, err := client.CreateAssessment(ctx, &progressv1.CreateAssessmentRequest{Parent: child, Assessment: &progressv1.Assessment{
		Subject: "Reading", Title: "Book report", Kind: progressv1.AssessmentKind_ASSESSMENT_KIND_PROJECT, AssessedDate: "2026-03-12",
		Score: &progressv1.Score{Value: &progressv1.Score_LetterGrade{LetterGrade: "A-"}},
	}}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CreateMilestone(ctx, &progressv1.CreateMilestoneRequest{Parent: child, Milestone: &progressv1.Milestone{
		Title: "Learned to swim", Category: progressv1.MilestoneCategory_MILESTONE_CATEGORY_SPORTS, AchievedDate: "2026-03-20"}}); err != nil {
		t.Fatal(err)
	}

	// The guardian reads all of it.
	list := s.call(t, "GET", "/v1/"+child+"/assessments", maria, "").json(t)
	if n := len(list["assessments"].([]any)); n != 2 {
		t.Fatalf("guardian lists %d assessments: %v", n, list)
	}
	if ms := s.call(t, "GET", "/v1/"+child+"/milestones", maria, "").json(t); len(ms["milestones"].([]any)) != 2 {
		t.Fatalf("guardian milestones: %v", ms)
	}
	sum := s.call(t, "GET", "/v1/"+child+"/progressSummary", maria, "").json(t)
	overall := sum["overall"].(map[string]any)
	if overall["assessmentCount"] != 2.0 || len(sum["subjects"].([]any)) != 2 || len(sum["milestones"].([]any)) != 2 {
		t.Fatalf("summary %v", sum)
	}
	mariaClient, mariaAuth := s.grpcClient(t, maria)
	if _, err := mariaClient.GetProgressSummary(mariaAuth(context.Background()), &progressv1.GetProgressSummaryRequest{Name: child + "/progressSummary"}); err != nil {
		t.Fatalf("summary over gRPC: %v", err)
	}

	// A guardian cannot write; another family sees nothing.
	refusals := []struct {
		name, method, path, token, body string
		status                          int
	}{
		{"guardian records", "POST", "/v1/" + child + "/assessments", maria, `{"subject":"Math","title":"x","kind":"ASSESSMENT_KIND_TEST","assessedDate":"2026-03-02"}`, 403},
		{"guardian adds a milestone", "POST", "/v1/" + child + "/milestones", maria, `{"title":"x","achievedDate":"2026-03-02"}`, 403},
		{"guardian changes the scale", "PATCH", "/v1/" + child + "/gradingScale", maria, `{"grades":[{"letter":"A","percent":100}]}`, 403},
		{"stranger lists assessments", "GET", "/v1/" + child + "/assessments", olga, "", 404},
		{"stranger reads the summary", "GET", "/v1/" + child + "/progressSummary", olga, "", 404},
		{"stranger records", "POST", "/v1/" + child + "/assessments", olga, `{"subject":"Math","title":"x","kind":"ASSESSMENT_KIND_TEST","assessedDate":"2026-03-02"}`, 404},
		{"stranger reads the scale", "GET", "/v1/" + child + "/gradingScale", olga, "", 404},
		{"a teacher note with a score", "POST", "/v1/" + child + "/assessments", teacher, `{"subject":"Math","title":"x","kind":"ASSESSMENT_KIND_TEACHER_NOTE","assessedDate":"2026-03-02","score":{"letterGrade":"A"}}`, 400},
		{"an impossible date", "POST", "/v1/" + child + "/milestones", teacher, `{"title":"x","achievedDate":"2026-02-30"}`, 400},
		{"missing fields", "POST", "/v1/" + child + "/assessments", teacher, `{"subject":"Math"}`, 400},
		{"zero points possible", "POST", "/v1/" + child + "/assessments", teacher, `{"subject":"Math","title":"x","kind":"ASSESSMENT_KIND_TEST","assessedDate":"2026-03-02","score":{"points":{"earned":1,"possible":0}}}`, 400},
		{"a window that ends before it starts", "GET", "/v1/" + child + "/progressSummary?startDate=2026-04-01&endDate=2026-03-01", maria, "", 400},
		{"duplicate letters on a scale", "PATCH", "/v1/" + child + "/gradingScale", teacher, `{"grades":[{"letter":"A","percent":95},{"letter":"a","percent":90}]}`, 400},
	}
	for _, r := range refusals {
		if got := s.call(t, r.method, r.path, r.token, r.body); got.status != r.status {
			t.Errorf("%s: %d %s, want %d", r.name, got.status, got.body, r.status)
		}
	}
	if after := s.call(t, "GET", "/v1/"+child+"/assessments", maria, "").json(t); len(after["assessments"].([]any)) != 2 {
		t.Fatalf("a refused write was stored: %v", after)
	}
}

// TestWorkedExample checks the contract's example through the REST route.
func TestWorkedExample(t *testing.T) {
	s := startSuite(t)
	child := s.family(t)
	teacher := s.userToken(t, "teacher", false)
	for _, body := range []string{
		`{"subject":"Math","title":"Quiz 1","kind":"ASSESSMENT_KIND_TEST","assessedDate":"2026-03-01","score":{"points":{"earned":18,"possible":20}}}`,
		`{"subject":"Math","title":"Homework","kind":"ASSESSMENT_KIND_HOMEWORK","assessedDate":"2026-03-15","score":{"letterGrade":"B+"}}`,
		`{"subject":"Math","title":"Test","kind":"ASSESSMENT_KIND_TEST","assessedDate":"2026-03-31","score":{"points":{"earned":70,"possible":100}}}`,
		`{"subject":"Math","title":"Note","kind":"ASSESSMENT_KIND_TEACHER_NOTE","assessedDate":"2026-03-20","teacherComment":"Tired today"}`,
		`{"subject":"Art","title":"Outside the window","kind":"ASSESSMENT_KIND_PROJECT","assessedDate":"2026-04-02","score":{"letterGrade":"A"}}`,
	} {
		s.mustCreate(t, "/v1/"+child+"/assessments", teacher, body)
	}
	r := s.call(t, "GET", "/v1/"+child+"/progressSummary?startDate=2026-03-01&endDate=2026-03-31", s.userToken(t, "maria", false), "")
	if r.status != 200 {
		t.Fatalf("summary: %d %s", r.status, r.body)
	}
	var sum struct {
		Subjects []struct {
			Subject         string
			AssessmentCount int
			ScoredCount     int
			LatestPercent   float64
			MeanPercent     float64
			Trend           float64
		}
	}
	if err := json.Unmarshal(r.body, &sum); err != nil {
		t.Fatal(err)
	}
	if len(sum.Subjects) != 1 {
		t.Fatalf("subjects in the window: %s", r.body)
	}
	m := sum.Subjects[0]
	if m.Subject != "Math" || m.AssessmentCount != 4 || m.ScoredCount != 3 || m.LatestPercent != 70 || m.MeanPercent != 82.33 || m.Trend != -20.28 {
		t.Fatalf("Math = %+v; want 4 entries, 3 scored, latest 70, mean 82.33, trend -20.28", m)
	}
}

func TestSummaryFollowsEveryWrite(t *testing.T) {
	s := startSuite(t)
	child := s.family(t)
	teacher := s.userToken(t, "teacher", false)
	latest := func() any {
		sum := s.call(t, "GET", "/v1/"+child+"/progressSummary", teacher, "").json(t)
		return sum["overall"].(map[string]any)["latestPercent"]
	}
	a := s.mustCreate(t, "/v1/"+child+"/assessments", teacher,
		`{"subject":"Math","title":"Q","kind":"ASSESSMENT_KIND_TEST","assessedDate":"2026-03-01","score":{"letterGrade":"B"}}`)
	if got := latest(); got != 83.0 {
		t.Fatalf("latest %v, want 83", got)
	}
	if got := latest(); got != 83.0 { // served from the cache
		t.Fatalf("cached latest %v", got)
	}
	// A new grading scale changes the percentage of the same letter.
	if r := s.call(t, "PATCH", "/v1/"+child+"/gradingScale", teacher, `{"grades":[{"letter":"B","percent":85},{"letter":"F","percent":0}]}`); r.status != 200 {
		t.Fatalf("scale: %d %s", r.status, r.body)
	}
	if got := latest(); got != 85.0 {
		t.Fatalf("after the scale changed: %v, want 85", got)
	}
	if r := s.call(t, "PATCH", "/v1/"+a["name"].(string), teacher, `{"score":{"points":{"earned":3,"possible":4}}}`); r.status != 200 {
		t.Fatalf("update: %d %s", r.status, r.body)
	}
	if got := latest(); got != 75.0 {
		t.Fatalf("after the update: %v, want 75", got)
	}
	if r := s.call(t, "DELETE", "/v1/"+a["name"].(string), teacher, ""); r.status != 200 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if got := latest(); got != nil {
		t.Fatalf("after the delete: %v, want none", got)
	}
}

func TestReplaysAndStaleEtags(t *testing.T) {
	s := startSuite(t)
	child := s.family(t)
	teacher := s.userToken(t, "teacher", false)
	body := `{"subject":"Math","title":"Q","kind":"ASSESSMENT_KIND_TEST","assessedDate":"2026-03-01","score":{"letterGrade":"A"}}`
	first := s.mustCreate(t, "/v1/"+child+"/assessments?requestId=retry-1", teacher, body)
	again := s.mustCreate(t, "/v1/"+child+"/assessments?requestId=retry-1", teacher, body)
	if first["name"] != again["name"] || first["createTime"] != again["createTime"] {
		t.Fatalf("replay created another: %v vs %v", first["name"], again["name"])
	}
	// Over gRPC as well, for milestones.
	client, auth := s.grpcClient(t, teacher)
	req := &progressv1.CreateMilestoneRequest{Parent: child, RequestId: "retry-2",
		Milestone: &progressv1.Milestone{Title: "Rode a bike", AchievedDate: "2026-03-03"}}
	m1, err := client.CreateMilestone(auth(context.Background()), req)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := client.CreateMilestone(auth(context.Background()), req)
	if err != nil || m2.Name != m1.Name {
		t.Fatalf("milestone replay: %v %v", m2, err)
	}
	list := s.call(t, "GET", "/v1/"+child+"/assessments", teacher, "").json(t)
	if n := len(list["assessments"].([]any)); n != 1 {
		t.Fatalf("%d assessments after a replay", n)
	}

	name, etag := first["name"].(string), first["etag"].(string)
	if r := s.call(t, "PATCH", "/v1/"+name, teacher, `{"title":"Quiz","etag":"`+etag+`"}`); r.status != 200 {
		t.Fatalf("update with the current etag: %d %s", r.status, r.body)
	}
	if r := s.call(t, "PATCH", "/v1/"+name, teacher, `{"title":"Again","etag":"`+etag+`"}`); r.status != 409 {
		t.Fatalf("stale etag: %d %s", r.status, r.body)
	}
	if _, err := client.UpdateMilestone(auth(context.Background()), &progressv1.UpdateMilestoneRequest{
		Milestone: &progressv1.Milestone{Name: m1.Name, Title: "x", Etag: "v9"}, UpdateMask: nil}); status.Code(err) != codes.Aborted {
		t.Fatalf("stale milestone etag over gRPC: %v", err)
	}
	if got := s.call(t, "GET", "/v1/"+name, teacher, "").json(t); got["title"] != "Quiz" {
		t.Fatalf("a stale write changed the row: %v", got)
	}
}

// TestPagingWhileWriting lists 1,000 assessments page by page through the
// REST API while another writer records more: every original appears
// exactly once.
func TestPagingWhileWriting(t *testing.T) {
	s := startSuite(t)
	child := s.family(t)
	client, auth := s.grpcClient(t, s.userToken(t, "teacher", false))
	ctx := auth(context.Background())
	record := func(i int, prefix string) string {
		a, err := client.CreateAssessment(ctx, &progressv1.CreateAssessmentRequest{Parent: child, Assessment: &progressv1.Assessment{
			Subject: "Math", Title: fmt.Sprintf("%s%d", prefix, i), Kind: progressv1.AssessmentKind_ASSESSMENT_KIND_HOMEWORK,
			AssessedDate: fmt.Sprintf("2026-%02d-%02d", 1+i%12, 1+i%28)}})
		if err != nil {
			t.Error(err)
			return ""
		}
		return a.Name
	}
	original := map[string]bool{}
	for i := range 1000 {
		original[record(i, "orig")] = true
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
				record(i*7, "new")
			}
		}
	}()
	seen := map[string]int{}
	maria := s.userToken(t, "maria", false)
	token := ""
	for page := 0; ; page++ {
		r := s.call(t, "GET", "/v1/"+child+"/assessments?pageSize=50&pageToken="+token, maria, "")
		if r.status != 200 {
			t.Fatalf("page %d: %d %s", page, r.status, r.body)
		}
		body := r.json(t)
		for _, a := range body["assessments"].([]any) {
			seen[a.(map[string]any)["name"].(string)]++
		}
		token, _ = body["nextPageToken"].(string)
		if token == "" {
			break
		}
	}
	close(stop)
	wg.Wait()
	for name := range original {
		if seen[name] != 1 {
			t.Errorf("%s listed %d times", name, seen[name])
		}
	}
	for name, n := range seen {
		if n > 1 {
			t.Errorf("%s listed %d times", name, n)
		}
	}
}
