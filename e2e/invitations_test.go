//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kinbridge/kinbridge/pkg/auth"
	"github.com/kinbridge/kinbridge/pkg/sqldb"
)

// inviteFamily is a `kinbridge serve all` with Ada, her mother maria (a
// guardian), and tokens for the administrator and three relatives.
type inviteFamily struct {
	p                        *process
	child                    string
	admin, maria, olga, ivan string
}

func newInviteFamily(t *testing.T) *inviteFamily {
	t.Helper()
	dataDir := t.TempDir()
	f := &inviteFamily{p: serve(t, dataDir, nil)}
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
	f.admin, f.maria, f.olga, f.ivan = f.p.adminToken, issue("maria"), issue("olga"), issue("ivan")
	var child struct{ Name string }
	f.must(t, f.admin, "POST", "/v1/children", `{"displayName": "Ada"}`, &child)
	f.child = child.Name
	f.must(t, f.admin, "POST", "/v1/"+f.child+"/guardians", `{"user": "maria", "role": "ROLE_GUARDIAN", "relation": "mother"}`, nil)
	return f
}

// call sends a REST request through the gateway.
func (f *inviteFamily) call(t *testing.T, token, method, path, body string) (int, []byte) {
	t.Helper()
	code, b, _ := httpDo(t, method, "http://"+f.p.gateway+path, token, "application/json", strings.NewReader(body))
	return code, b
}

// must sends a request that must answer 200 and decodes its body into out.
func (f *inviteFamily) must(t *testing.T, token, method, path, body string, out any) {
	t.Helper()
	code, b := f.call(t, token, method, path, body)
	if code != http.StatusOK {
		t.Fatalf("%s %s: %d %s", method, path, code, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
	}
}

// inviteRefusal is the gateway's JSON error.
type inviteRefusal struct {
	Code    int
	Message string
	Details []struct {
		Type   string `json:"@type"`
		Reason string
		Domain string
	}
}

// inviteRefused checks an answer is the HTTP status with the progress reason
// (none when reason is empty).
func inviteRefused(t *testing.T, what string, code int, body []byte, wantCode int, reason string) {
	t.Helper()
	var r inviteRefusal
	if err := json.Unmarshal(body, &r); err != nil || code != wantCode {
		t.Errorf("%s: %d %s, want %d", what, code, body, wantCode)
		return
	}
	got := ""
	for _, d := range r.Details {
		if strings.HasSuffix(d.Type, "google.rpc.ErrorInfo") && d.Domain == "progress.kinbridge" {
			got = d.Reason
		}
	}
	if got != reason {
		t.Errorf("%s: reason %q, want %q (%s)", what, got, reason, body)
	}
}

type inviteJSON struct {
	Name, Role, Relation, State, Creator, Redeemer, Token string
}

// TestInvitationsJourney: an administrator lets Ada's guardians invite;
// maria invites grandma olga, who redeems the link and follows Ada; the
// link cannot be used again, and revoked and expired links say so.
func TestInvitationsJourney(t *testing.T) {
	f := newInviteFamily(t)
	invite := func(body string) inviteJSON {
		t.Helper()
		var inv inviteJSON
		f.must(t, f.maria, "POST", "/v1/"+f.child+"/invitations", body, &inv)
		return inv
	}
	redeem := func(token, tok string) (int, []byte) {
		t.Helper()
		b, _ := json.Marshal(map[string]string{"token": tok})
		return f.call(t, token, "POST", "/v1/invitations:redeem", string(b))
	}

	// Until the administrator allows it, a guardian cannot invite.
	code, body := f.call(t, f.maria, "POST", "/v1/"+f.child+"/invitations", `{"relation": "grandmother"}`)
	inviteRefused(t, "inviting before it is allowed", code, body, http.StatusForbidden, "")
	code, body = f.call(t, f.maria, "PATCH", "/v1/"+f.child+"?updateMask=guardiansMayInvite", `{"guardiansMayInvite": true}`)
	inviteRefused(t, "a guardian allowing it", code, body, http.StatusForbidden, "")
	var child struct{ GuardiansMayInvite bool }
	f.must(t, f.admin, "PATCH", "/v1/"+f.child+"?updateMask=guardiansMayInvite", `{"guardiansMayInvite": true}`, &child)
	if !child.GuardiansMayInvite {
		t.Fatal("guardiansMayInvite did not turn on")
	}

	inv := invite(`{"relation": "grandmother"}`)
	if inv.State != "INVITATION_STATE_ACTIVE" || inv.Role != "ROLE_GUARDIAN" || inv.Creator != "maria" || len(inv.Token) != 43 {
		t.Fatalf("created %+v", inv)
	}
	var list struct{ Invitations []inviteJSON }
	f.must(t, f.maria, "GET", "/v1/"+f.child+"/invitations", "", &list)
	if len(list.Invitations) != 1 || list.Invitations[0].Name != inv.Name || list.Invitations[0].Token != "" {
		t.Fatalf("listed %+v; want the invitation without its token", list.Invitations)
	}

	// olga follows nothing, redeems, and then follows Ada as grandmother.
	type me struct {
		Children []struct{ Child, DisplayName, Role, Relation string }
	}
	var before, after me
	f.must(t, f.olga, "GET", "/v1/users/me", "", &before)
	code, body = redeem(f.olga, inv.Token)
	if code != http.StatusOK || !strings.Contains(string(body), f.child+"/guardians/olga") {
		t.Fatalf("redeem: %d %s", code, body)
	}
	f.must(t, f.olga, "GET", "/v1/users/me", "", &after)
	if len(before.Children) != 0 || len(after.Children) != 1 || after.Children[0].Child != f.child ||
		after.Children[0].Role != "ROLE_GUARDIAN" || after.Children[0].Relation != "grandmother" {
		t.Fatalf("olga's children: before %+v, after %+v", before, after)
	}

	// The link cannot be reused by anyone else.
	code, body = redeem(f.ivan, inv.Token)
	inviteRefused(t, "reusing the link", code, body, http.StatusBadRequest, "INVITATION_REDEEMED")
	// Her retry (the first answer lost) gets what she already has.
	code, body = redeem(f.olga, inv.Token)
	if code != http.StatusOK || !strings.Contains(string(body), f.child+"/guardians/olga") {
		t.Fatalf("olga redeeming again: %d %s", code, body)
	}

	// A revoked link says so.
	revoked := invite(`{"relation": "uncle"}`)
	var afterRevoke inviteJSON
	f.must(t, f.maria, "POST", "/v1/"+revoked.Name+":revoke", `{}`, &afterRevoke)
	if afterRevoke.State != "INVITATION_STATE_REVOKED" {
		t.Fatalf("revoked: %+v", afterRevoke)
	}
	code, body = redeem(f.ivan, revoked.Token)
	inviteRefused(t, "a revoked link", code, body, http.StatusBadRequest, "INVITATION_REVOKED")

	// An expired link says so. Time cannot be moved in another process
	// without waiting, so the stored expiry is moved instead.
	expiring := invite(`{"relation": "uncle", "ttl": "60s"}`)
	f.expire(t, expiring.Name)
	var got inviteJSON
	f.must(t, f.maria, "GET", "/v1/"+expiring.Name, "", &got)
	if got.State != "INVITATION_STATE_EXPIRED" {
		t.Fatalf("after its expiry: %+v", got)
	}
	code, body = redeem(f.ivan, expiring.Token)
	inviteRefused(t, "an expired link", code, body, http.StatusBadRequest, "INVITATION_EXPIRED")

	// A guardian redeeming an invitation gets 409 and leaves it usable.
	open := invite(`{}`)
	code, body = redeem(f.olga, open.Token)
	inviteRefused(t, "a guardian redeeming", code, body, http.StatusConflict, "ALREADY_GUARDIAN")

	// A guessed token learns nothing.
	code, body = redeem(f.ivan, strings.Repeat("A", 43))
	inviteRefused(t, "a guessed token", code, body, http.StatusNotFound, "")
	if strings.Contains(string(body), strings.Repeat("A", 43)) {
		t.Errorf("the inviteRefusal echoes the token: %s", body)
	}

	// maria hears that grandma joined, through the outbox and notification.
	f.waitJoined(t)

	// Deleting Ada takes her invitations with her.
	f.must(t, f.admin, "DELETE", "/v1/"+f.child, "", nil)
	code, body = redeem(f.ivan, open.Token)
	inviteRefused(t, "a deleted child's link", code, body, http.StatusNotFound, "")
}

// expire moves an invitation's stored expiry into the past.
func (f *inviteFamily) expire(t *testing.T, name string) {
	t.Helper()
	db, err := sqldb.Open(t.Context(), "sqlite:"+filepath.Join(f.p.dataDir, "progress.db"), sqldb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	id := name[strings.LastIndex(name, "/")+1:]
	res, err := db.ExecContext(t.Context(), `UPDATE invitations SET expire_time = create_time WHERE id = $1`, id)
	if n, _ := res.RowsAffected(); err != nil || n != 1 {
		t.Fatalf("moving %s's expiry: %v (%d rows)", name, err, n)
	}
}

// waitJoined waits for maria's GUARDIANSHIP_GRANTED notification naming
// olga and herself.
func (f *inviteFamily) waitJoined(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for {
		var inbox struct {
			Notifications []struct{ Type, Body string }
		}
		f.must(t, f.maria, "GET", "/v1/users/me/notifications", "", &inbox)
		for _, n := range inbox.Notifications {
			if n.Type == "EVENT_TYPE_GUARDIANSHIP_GRANTED" && strings.Contains(n.Body, "olga") && strings.Contains(n.Body, "invited by maria") {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("maria never heard that olga joined: %+v", inbox.Notifications)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// TestREADMEInvitations runs the README's invitations block as written,
// with the shell variables the quickstart sets.
func TestREADMEInvitations(t *testing.T) {
	f := newInviteFamily(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	env := []string{"KINBRIDGE_TOKEN=" + f.admin, "CHILD=" + f.child, "MARIA=" + f.maria, "OLGA=" + f.olga}
	out := runScript(t, ctx, f.p.asWritten(readmeBlock(t, "invitations")), env)
	flat := strings.NewReplacer(`": `, `":`, ", ", ",").Replace(out)
	lines := strings.Split(strings.TrimSpace(flat), "\n")
	if len(lines) != 5 {
		t.Fatalf("want 5 output lines from the invitations block, got %d:\n%s", len(lines), out)
	}
	checks := []struct{ what, line, want string }{
		{"guardians may invite", lines[0], "200"},
		{"the invitation", lines[1], `"state":"INVITATION_STATE_ACTIVE"`},
		{"olga redeems", lines[2], `"relation":"grandmother"`},
		{"olga redeems: 200", lines[2], "} 200"},
		{"olga follows Ada", lines[3], `"child":"` + f.child + `"`},
		{"the link again", lines[4], `"reason":"INVITATION_REDEEMED"`},
		{"the link again: 400", lines[4], "} 400"},
	}
	for _, c := range checks {
		if !strings.Contains(c.line, c.want) {
			t.Errorf("%s: %s lacks %s", c.what, c.line, c.want)
		}
	}
}
