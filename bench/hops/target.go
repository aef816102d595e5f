package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/kinbridge/kinbridge/bench/internal/suite"
	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
)

// pageSize is the page ListAssessments reads.
const pageSize = 50

// target is one server with a child to read, and clients of both its
// gRPC and REST surfaces.
type target struct {
	srv      *suite.Server
	conn     *grpc.ClientConn
	progress progressv1.ProgressServiceClient
	http     *http.Client
	token    string
	child    string   // children/<id>
	page     []string // the names ListAssessments must answer, in order
}

func newTarget(ctx context.Context, srv *suite.Server) (*target, error) {
	token, err := srv.Token("bench-admin", true)
	if err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient(srv.Progress, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	t := &target{srv: srv, conn: conn, progress: progressv1.NewProgressServiceClient(conn), token: token,
		http: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	child, err := t.progress.CreateChild(t.auth(cctx), &progressv1.CreateChildRequest{Child: &progressv1.Child{DisplayName: "Bench"}})
	if err != nil {
		t.close()
		return nil, fmt.Errorf("create child: %w", err)
	}
	t.child = child.GetName()
	return t, nil
}

func (t *target) close() {
	t.conn.Close()
	t.srv.Stop()
}

func (t *target) auth(ctx context.Context) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+t.token)
}

// seed records n assessments and reads the first page, which every
// ListAssessments must then answer.
func (t *target) seed(ctx context.Context, n int) error {
	ctx, cancel := context.WithTimeout(t.auth(ctx), time.Minute)
	defer cancel()
	for i := range n {
		id := fmt.Sprintf("hops-%04d", i)
		if _, err := t.progress.CreateAssessment(ctx, &progressv1.CreateAssessmentRequest{Parent: t.child, RequestId: id,
			Assessment: &progressv1.Assessment{Subject: "Math", Title: id,
				Kind: progressv1.AssessmentKind_ASSESSMENT_KIND_HOMEWORK, AssessedDate: "2026-03-01"}}); err != nil {
			return fmt.Errorf("seed assessment %d: %w", i, err)
		}
	}
	resp, err := t.progress.ListAssessments(ctx, &progressv1.ListAssessmentsRequest{Parent: t.child, PageSize: pageSize})
	if err != nil {
		return err
	}
	for _, a := range resp.GetAssessments() {
		t.page = append(t.page, a.GetName())
	}
	return checkPage(t.page, t.page, n)
}

// checkPage says whether got is the page of want, in order, and a full one.
func checkPage(want, got []string, seeded int) error {
	if len(want) != min(pageSize, seeded) {
		return fmt.Errorf("the first page holds %d assessments, want %d", len(want), min(pageSize, seeded))
	}
	if !slices.Equal(got, want) {
		return fmt.Errorf("page of %d assessments differs from the first page read (%d)", len(got), len(want))
	}
	return nil
}

func (t *target) grpcGetChild(ctx context.Context) error {
	c, err := t.progress.GetChild(t.auth(ctx), &progressv1.GetChildRequest{Name: t.child})
	if err != nil {
		return err
	}
	if c.GetName() != t.child {
		return fmt.Errorf("GetChild answered %q for %q", c.GetName(), t.child)
	}
	return nil
}

func (t *target) grpcListAssessments(ctx context.Context) error {
	resp, err := t.progress.ListAssessments(t.auth(ctx), &progressv1.ListAssessmentsRequest{Parent: t.child, PageSize: pageSize})
	if err != nil {
		return err
	}
	names := make([]string, 0, len(resp.GetAssessments()))
	for _, a := range resp.GetAssessments() {
		names = append(names, a.GetName())
	}
	return checkPage(t.page, names, len(t.page))
}

func (t *target) restGetChild(ctx context.Context) error {
	var c struct{ Name string }
	if err := t.get(ctx, "/v1/"+t.child, &c); err != nil {
		return err
	}
	if c.Name != t.child {
		return fmt.Errorf("GET child answered %q for %q", c.Name, t.child)
	}
	return nil
}

func (t *target) restListAssessments(ctx context.Context) error {
	var page struct{ Assessments []struct{ Name string } }
	if err := t.get(ctx, fmt.Sprintf("/v1/%s/assessments?page_size=%d", t.child, pageSize), &page); err != nil {
		return err
	}
	names := make([]string, 0, len(page.Assessments))
	for _, a := range page.Assessments {
		names = append(names, a.Name)
	}
	return checkPage(t.page, names, len(t.page))
}

// get GETs path on the gateway and decodes the JSON answer into v.
func (t *target) get(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+t.srv.Gateway+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+t.token)
	resp, err := t.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("GET %s: %s: %s", path, resp.Status, b)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}
