//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// approvalCall sends a JSON call through the gateway and decodes the answer
// into out (when not nil), failing unless the status is want.
func approvalCall(t *testing.T, gateway, method, path, token, body string, want int, out any) {
	t.Helper()
	code, b, _ := httpDo(t, method, "http://"+gateway+path, token, "application/json", strings.NewReader(body))
	if code != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, code, b, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
}

// inboxNote is what the journey reads of a notification.
type inboxNote struct {
	Type string `json:"type"`
	Link string `json:"link"`
}

// inbox lists a user's notifications over REST.
func inbox(t *testing.T, gateway, token string) []inboxNote {
	t.Helper()
	var resp struct {
		Notifications []inboxNote `json:"notifications"`
	}
	approvalCall(t, gateway, "GET", "/v1/users/me/notifications?pageSize=1000", token, "", http.StatusOK, &resp)
	return resp.Notifications
}

// waitInbox waits until the user's inbox holds a notification of each
// type about each link given as "TYPE link", and returns the inbox.
func waitInbox(t *testing.T, gateway, token string, want ...string) []inboxNote {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		notes := inbox(t, gateway, token)
		have := map[string]bool{}
		for _, n := range notes {
			have[n.Type+" "+n.Link] = true
		}
		missing := ""
		for _, w := range want {
			if !have[w] {
				missing = w
			}
		}
		if missing == "" {
			return notes
		}
		if time.Now().After(deadline) {
			t.Fatalf("inbox has no %s: %+v", missing, notes)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestApprovalJourney: the administrator makes a child's records wait for
// approval; teacher Ann records an assessment and uploads a photo, which
// the parent neither sees nor hears of; Ann cannot approve her own work;
// teacher Ben approves both, and the parent sees them and is notified.
// Everything over REST through the real gateway.
func TestApprovalJourney(t *testing.T) {
	dir := t.TempDir()
	p := serve(t, dir, nil)
	gw, admin := p.gateway, p.adminToken
	ann, ben, maria := issueToken(t, dir, "ann"), issueToken(t, dir, "ben"), issueToken(t, dir, "maria")

	var child struct {
		Name            string `json:"name"`
		Etag            string `json:"etag"`
		RequireApproval bool   `json:"requireApproval"`
	}
	approvalCall(t, gw, "POST", "/v1/children", admin, `{"displayName": "Ada"}`, http.StatusOK, &child)
	for user, role := range map[string]string{"maria": "ROLE_GUARDIAN", "ann": "ROLE_CONTRIBUTOR", "ben": "ROLE_CONTRIBUTOR"} {
		approvalCall(t, gw, "POST", "/v1/"+child.Name+"/guardians", admin, `{"user": "`+user+`", "role": "`+role+`"}`, http.StatusOK, nil)
	}
	// Only an administrator sets it; everyone who sees the child sees it.
	approvalCall(t, gw, "PATCH", "/v1/"+child.Name, ann, `{"requireApproval": true}`, http.StatusForbidden, nil)
	approvalCall(t, gw, "PATCH", "/v1/"+child.Name, admin, `{"requireApproval": true}`, http.StatusOK, &child)
	approvalCall(t, gw, "GET", "/v1/"+child.Name, maria, "", http.StatusOK, &child)
	if !child.RequireApproval {
		t.Fatalf("the parent reads %+v, want requireApproval", child)
	}

	// Ann records an assessment and uploads a photo: drafts.
	type record struct {
		Name         string `json:"name"`
		State        string `json:"state"`
		PublishState string `json:"publishState"`
		ApprovedBy   string `json:"approvedBy"`
		Etag         string `json:"etag"`
	}
	var assessment, photo record
	approvalCall(t, gw, "POST", "/v1/"+child.Name+"/assessments", ann, `{"subject": "Math", "title": "Fractions quiz",
		"kind": "ASSESSMENT_KIND_TEST", "assessedDate": "2026-03-01", "score": {"points": {"earned": 18, "possible": 20}}}`, http.StatusOK, &assessment)
	if assessment.State != "PUBLISH_STATE_DRAFT" {
		t.Fatalf("assessment %+v, want a draft", assessment)
	}
	jpeg, err := os.ReadFile(filepath.Join(fixtures, "plain.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	code, body := restUpload(t, gw, ann, child.Name, "?title=Sports+day", "image/jpeg", jpeg)
	if code != http.StatusOK {
		t.Fatalf("upload: %d %s", code, body)
	}
	if err := json.Unmarshal(body, &photo); err != nil || photo.PublishState != "PUBLISH_STATE_DRAFT" {
		t.Fatalf("photo %s (%v), want a draft", body, err)
	}
	waitReady(t, gw, ann, photo.Name)

	// Ben hears that both wait for approval; the parent neither sees them
	// nor hears of them.
	waitInbox(t, gw, ben, "EVENT_TYPE_APPROVAL_REQUESTED "+assessment.Name, "EVENT_TYPE_APPROVAL_REQUESTED "+photo.Name)
	for _, n := range inbox(t, gw, maria) {
		if n.Link == assessment.Name || n.Link == photo.Name || n.Type == "EVENT_TYPE_APPROVAL_REQUESTED" {
			t.Errorf("the parent was told of a draft: %+v", n)
		}
	}
	for _, path := range []string{"/v1/" + assessment.Name, "/v1/" + photo.Name, "/v1/" + photo.Name + ":content",
		"/v1/" + photo.Name + ":content?thumbnail=small"} {
		if code, b, _ := httpDo(t, "GET", "http://"+gw+path, maria, "", nil); code != http.StatusNotFound {
			t.Errorf("the parent GETs %s: %d %s, want 404", path, code, b)
		}
	}
	req, _ := http.NewRequest("GET", "http://"+gw+"/v1/"+photo.Name+":content", nil)
	req.Header.Set("Authorization", "Bearer "+maria)
	req.Header.Set("Range", "bytes=10-20")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("the parent's ranged read of the draft: %v %v, want 404", resp.Status, err)
	} else {
		resp.Body.Close()
	}
	var assessments struct {
		Assessments []record `json:"assessments"`
	}
	approvalCall(t, gw, "GET", "/v1/"+child.Name+"/assessments", maria, "", http.StatusOK, &assessments)
	if len(assessments.Assessments) != 0 {
		t.Errorf("the parent lists %+v", assessments.Assessments)
	}
	if items := listItems(t, gw, maria, child.Name); len(items) != 0 {
		t.Errorf("the parent lists media %+v", items)
	}
	// Ben sees them, as drafts.
	approvalCall(t, gw, "GET", "/v1/"+child.Name+"/assessments?state=PUBLISH_STATE_DRAFT", ben, "", http.StatusOK, &assessments)
	if len(assessments.Assessments) != 1 || assessments.Assessments[0].State != "PUBLISH_STATE_DRAFT" {
		t.Errorf("Ben lists drafts %+v", assessments.Assessments)
	}

	// Ann cannot approve her own work; Ben can, once, naming the version
	// he read (its etag: without it, 400).
	approvalCall(t, gw, "GET", "/v1/"+photo.Name, ben, "", http.StatusOK, &photo) // processed since the upload
	etagOf := func(r record) string { return `{"etag": "` + r.Etag + `"}` }
	approvalCall(t, gw, "POST", "/v1/"+assessment.Name+":approve", ann, etagOf(assessment), http.StatusForbidden, nil)
	approvalCall(t, gw, "POST", "/v1/"+photo.Name+":approve", ann, etagOf(photo), http.StatusForbidden, nil)
	approvalCall(t, gw, "POST", "/v1/"+assessment.Name+":approve", maria, etagOf(assessment), http.StatusForbidden, nil)
	approvalCall(t, gw, "POST", "/v1/"+assessment.Name+":approve", ben, `{}`, http.StatusBadRequest, nil) // INVALID_ARGUMENT
	approvalCall(t, gw, "POST", "/v1/"+assessment.Name+":approve", ben, etagOf(assessment), http.StatusOK, &assessment)
	approvalCall(t, gw, "POST", "/v1/"+photo.Name+":approve", ben, etagOf(photo), http.StatusOK, &photo)
	if assessment.State != "PUBLISH_STATE_PUBLISHED" || assessment.ApprovedBy != "ben" ||
		photo.PublishState != "PUBLISH_STATE_PUBLISHED" || photo.ApprovedBy != "ben" {
		t.Fatalf("approved %+v and %+v", assessment, photo)
	}
	approvalCall(t, gw, "POST", "/v1/"+photo.Name+":approve", admin, etagOf(photo), http.StatusBadRequest, nil) // FAILED_PRECONDITION

	// The parent now sees both and was told of both.
	waitInbox(t, gw, maria, "EVENT_TYPE_ASSESSMENT_RECORDED "+assessment.Name, "EVENT_TYPE_MEDIA_READY "+photo.Name)
	approvalCall(t, gw, "GET", "/v1/"+assessment.Name, maria, "", http.StatusOK, nil)
	if sum, n := contentSHA256(t, gw, maria, photo.Name); n == 0 || sum == "" {
		t.Errorf("the parent reads the photo: %d bytes", n)
	}
	if items := listItems(t, gw, maria, child.Name); len(items) != 1 || items[0].Name != photo.Name {
		t.Errorf("the parent lists media %+v", items)
	}
	var sum struct {
		Overall struct {
			AssessmentCount int `json:"assessmentCount"`
		} `json:"overall"`
	}
	approvalCall(t, gw, "GET", "/v1/"+child.Name+"/progressSummary", maria, "", http.StatusOK, &sum)
	if sum.Overall.AssessmentCount != 1 {
		t.Errorf("the parent's summary counts %d assessments, want 1", sum.Overall.AssessmentCount)
	}
}

// TestREADMEApproval runs the README's approval block as written, after
// the quickstart and progress blocks whose shell it continues.
func TestREADMEApproval(t *testing.T) {
	dataDir := t.TempDir()
	env := []string{"KINBRIDGE_DATA_DIR=" + dataDir}
	p := serve(t, dataDir, env)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	env = append(env, "KINBRIDGE_TOKEN=") // the quickstart exports its own
	script := p.asWritten(readmeBlock(t, "quickstart") + "\n" + readmeBlock(t, "progress") +
		"\necho '--- approval'\n" + readmeBlock(t, "approval"))
	out := runScript(t, ctx, script, env)
	_, approval, _ := strings.Cut(out, "--- approval")
	lines := strings.Split(strings.TrimSpace(approval), "\n")
	if len(lines) != 6 {
		t.Fatalf("want 6 output lines from the approval block, got %d:\n%s", len(lines), approval)
	}
	flat := strings.ReplaceAll(lines[4], `": "`, `":"`)
	for i, want := range []string{"200", "200", "404", "403", "", "200"} {
		if want != "" && lines[i] != want {
			t.Errorf("line %d: %q, want %q", i+1, lines[i], want)
		}
	}
	for _, want := range []string{`"state":"PUBLISH_STATE_PUBLISHED"`, `"approvedBy":"teacher2"`, "} 200"} {
		if !strings.Contains(flat, want) {
			t.Errorf("the approval's answer %s lacks %s", lines[4], want)
		}
	}
}
