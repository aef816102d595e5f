package main

import (
	"context"
	"encoding/json"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
)

// TestWhoAmI: GET /v1/users/me through the gateway answers the caller's id,
// administrator flag and followed children, exactly in the contract's JSON.
func TestWhoAmI(t *testing.T) {
	s := startSuite(t)
	child := s.family(t) // maria is a guardian (mother), teacher a contributor
	maria := s.userToken(t, "maria", false)
	// An OIDC subject with characters a path must escape.
	oidcUser := "auth0|ana@example.org"
	oidc := s.userToken(t, oidcUser, false)
	s.mustCreate(t, "/v1/"+child+"/guardians", s.adminToken, `{"user":"auth0|ana@example.org","role":"ROLE_GUARDIAN","relation":"grandmother"}`)

	asJSON := func(r response) any {
		t.Helper()
		var v any
		if err := json.Unmarshal(r.body, &v); err != nil {
			t.Fatalf("%d %s: %v", r.status, r.body, err)
		}
		return v
	}
	want := func(body string) any {
		var v any
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	answers := []struct {
		what, path, token, want string
	}{
		{"a guardian", "/v1/users/me", maria,
			`{"name":"users/maria","children":[{"child":"` + child + `","displayName":"Ada","role":"ROLE_GUARDIAN","relation":"mother"}]}`},
		{"a guardian by her own id", "/v1/users/maria", maria,
			`{"name":"users/maria","children":[{"child":"` + child + `","displayName":"Ada","role":"ROLE_GUARDIAN","relation":"mother"}]}`},
		{"a contributor without a relation", "/v1/users/me", s.userToken(t, "teacher", false),
			`{"name":"users/teacher","children":[{"child":"` + child + `","displayName":"Ada","role":"ROLE_CONTRIBUTOR"}]}`},
		{"an OIDC subject by its escaped id", "/v1/users/" + url.PathEscape(oidcUser), oidc,
			`{"name":"users/auth0|ana@example.org","children":[{"child":"` + child + `","displayName":"Ada","role":"ROLE_GUARDIAN","relation":"grandmother"}]}`},
		{"a user who follows no one", "/v1/users/me", s.userToken(t, "olga", false), `{"name":"users/olga"}`},
		{"the administrator", "/v1/users/me", s.adminToken, `{"name":"users/admin","administrator":true}`},
	}
	for _, a := range answers {
		r := s.call(t, "GET", a.path, a.token, "")
		if got := asJSON(r); r.status != 200 || !reflect.DeepEqual(got, want(a.want)) {
			t.Errorf("%s: %d %s, want 200 %s", a.what, r.status, r.body, a.want)
		}
	}

	refusals := []struct {
		what, path, token string
		status            int
	}{
		{"no token", "/v1/users/me", "", 401},
		{"another user", "/v1/users/maria", s.userToken(t, "olga", false), 404},
		{"another user, asked by the administrator", "/v1/users/maria", s.adminToken, 404},
	}
	for _, r := range refusals {
		if got := s.call(t, "GET", r.path, r.token, ""); got.status != r.status {
			t.Errorf("%s: %d %s, want %d", r.what, got.status, got.body, r.status)
		}
	}

	// Over gRPC, and a deleted child no longer appears.
	if r := s.call(t, "DELETE", "/v1/"+child, s.adminToken, ""); r.status != 200 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	client, auth := s.grpcClient(t, maria)
	u, err := client.GetUser(auth(context.Background()), &progressv1.GetUserRequest{Name: "users/me"})
	if err != nil || u.GetName() != "users/maria" || len(u.GetChildren()) != 0 {
		t.Fatalf("after the delete, over gRPC: %v, %v", u, err)
	}
	if _, err := client.GetUser(context.Background(), &progressv1.GetUserRequest{Name: "users/me"}); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("gRPC without a token: %v", err)
	}
}

// TestCLIWhoAmI: `kinbridge whoami` shows the token's user, whether an
// administrator, and the children they follow; --json is the User.
func TestCLIWhoAmI(t *testing.T) {
	s := startSuite(t)
	t.Setenv("KINBRIDGE_ADDR", s.progress)
	t.Setenv("KINBRIDGE_TOKEN", s.adminToken)
	child := cliFamily(t)

	out := mustKB(t, "whoami", "--token", s.userToken(t, "maria", false))
	if field(t, out, "User") != "maria" || field(t, out, "Administrator") != "no" {
		t.Fatalf("maria:\n%s", out)
	}
	if rows := tableRows(t, out, "CHILD"); len(rows) != 1 || !slices.Equal(rows[0], []string{child, "Ada", "guardian", "mother"}) {
		t.Fatalf("maria's children %q in:\n%s", rows, out)
	}
	if rows := tableRows(t, mustKB(t, "whoami", "--token", s.userToken(t, "teacher", false)), "CHILD"); len(rows) != 1 || !slices.Equal(rows[0], []string{child, "Ada", "contributor", "-"}) {
		t.Fatalf("teacher's children %q", rows)
	}
	admin := mustKB(t, "whoami")
	if field(t, admin, "User") != "admin" || !strings.HasPrefix(field(t, admin, "Administrator"), "yes") || !strings.Contains(admin, "You follow no children") {
		t.Fatalf("admin:\n%s", admin)
	}
	var u progressv1.User
	if err := protojson.Unmarshal([]byte(mustKB(t, "whoami", "--json", "--token", s.userToken(t, "maria", false))), &u); err != nil ||
		u.GetName() != "users/maria" || len(u.GetChildren()) != 1 || u.GetChildren()[0].GetRelation() != "mother" {
		t.Fatalf("--json: %v, %v", &u, err)
	}
	if _, err := kb(t, "whoami", "extra"); err == nil {
		t.Fatal("whoami took an argument")
	}
}
