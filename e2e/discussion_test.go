//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kinbridge/kinbridge/pkg/auth"
)

// TestDiscussionJourney runs the README's "Reactions and comments" block
// as written against `kinbridge serve all`, over REST: the teacher records
// an assessment and uploads a photo, maria comments on both and hearts
// both, the teacher removes a comment and deletes the assessment. Then the
// teacher's inbox holds the four notifications and maria's none of them.
func TestDiscussionJourney(t *testing.T) {
	dataDir := t.TempDir()
	p := serve(t, dataDir, nil)
	key, err := auth.LoadKey(dataDir + "/keys/user.pem")
	if err != nil {
		t.Fatal(err)
	}
	issue := func(user string) string {
		tok, err := auth.NewUserIssuer(key).Issue(user, false, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	teacher, maria := issue("teacher"), issue("maria")
	call := func(token, method, path, body string, out any) {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+p.gateway+path, bytes.NewBufferString(body))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
		if out != nil {
			if err := json.Unmarshal(b, out); err != nil {
				t.Fatalf("%s %s: %v: %s", method, path, err, b)
			}
		}
	}
	var child struct{ Name string }
	call(p.adminToken, "POST", "/v1/children", `{"displayName": "Ada"}`, &child)
	call(p.adminToken, "POST", "/v1/"+child.Name+"/guardians", `{"user": "teacher", "role": "ROLE_CONTRIBUTOR"}`, nil)
	call(p.adminToken, "POST", "/v1/"+child.Name+"/guardians", `{"user": "maria", "role": "ROLE_GUARDIAN", "relation": "mother"}`, nil)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out := runScript(t, ctx, p.asWritten(readmeBlock(t, "discussion")),
		[]string{"CHILD=" + child.Name, "TEACHER=" + teacher, "MARIA=" + maria})
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 9 {
		t.Fatalf("want 9 output lines from the discussion block, got %d:\n%s", len(lines), out)
	}
	flat := func(s string) string { return strings.NewReplacer(`": `, `":`, ", ", ",").Replace(s) }
	for i, c := range []struct{ what, want string }{
		{"maria's comment on the assessment", `"text":"So proud of you!"`},
		{"maria's comment on the photo", `"author":"maria"`},
		{"maria's heart on the assessment", `"kind":"REACTION_KIND_HEART"`},
		{"maria's heart on the photo", `/reactions/maria"`},
		{"an empty comment", `"field":"comment.text"`},
		{"the photo's reactions", `"summary":{"counts":[{"kind":"REACTION_KIND_HEART","count":1}],"commentCount":1}`},
		{"the teacher removes the comment", "{} 200"},
		{"the assessment deleted", "200"},
		{"its comments are gone with it", "404"},
	} {
		line := flat(lines[i])
		if i < 4 && !strings.HasSuffix(line, " 200") {
			t.Errorf("%s: %s", c.what, line)
		}
		if !strings.Contains(line, c.want) {
			t.Errorf("%s: %s lacks %s", c.what, line, c.want)
		}
	}
	if !strings.HasSuffix(lines[4], " 400") {
		t.Errorf("an empty comment answered %s, want 400", lines[4])
	}
	if lines[7] != "200" || lines[8] != "404" {
		t.Errorf("deleting the assessment answered %s, its comments then %s; want 200 and 404", lines[7], lines[8])
	}

	// The photo: the comment the teacher removed is gone, the heart stays.
	var photo struct {
		Name      string
		Reactions struct {
			Counts []struct {
				Kind  string
				Count int
			}
			MyKind       string
			CommentCount int
		}
	}
	var items struct{ MediaItems []json.RawMessage }
	call(maria, "GET", "/v1/"+child.Name+"/media", "", &items)
	if len(items.MediaItems) != 1 {
		t.Fatalf("media items = %d", len(items.MediaItems))
	}
	if err := json.Unmarshal(items.MediaItems[0], &photo); err != nil {
		t.Fatal(err)
	}
	if photo.Reactions.CommentCount != 0 || photo.Reactions.MyKind != "REACTION_KIND_HEART" || len(photo.Reactions.Counts) != 1 {
		t.Errorf("the photo's reactions as maria sees them: %+v", photo.Reactions)
	}

	type notification struct{ Type, Link, Title string }
	inbox := func(token string) []notification {
		var page struct{ Notifications []notification }
		call(token, "GET", "/v1/users/me/notifications?pageSize=100", "", &page)
		var out []notification
		for _, n := range page.Notifications {
			if n.Type == "EVENT_TYPE_COMMENT_ADDED" || n.Type == "EVENT_TYPE_REACTION_ADDED" {
				out = append(out, n)
			}
		}
		return out
	}
	poll(t, "the teacher's four notifications", func() bool { return len(inbox(teacher)) >= 4 })
	got := map[string]int{}
	for _, n := range inbox(teacher) {
		kind := "assessment"
		if strings.Contains(n.Link, "/media/") {
			kind = "photo"
		}
		got[n.Type+" on the "+kind]++
	}
	for _, want := range []string{"EVENT_TYPE_COMMENT_ADDED on the assessment", "EVENT_TYPE_COMMENT_ADDED on the photo",
		"EVENT_TYPE_REACTION_ADDED on the assessment", "EVENT_TYPE_REACTION_ADDED on the photo"} {
		if got[want] != 1 {
			t.Errorf("the teacher's inbox has %d %s; all: %v", got[want], want, got)
		}
	}
	// The events reached every inbox together: maria's, the actor's, has none.
	if mine := inbox(maria); len(mine) != 0 {
		t.Errorf("maria was notified of her own comments and reactions: %+v", mine)
	}
}
