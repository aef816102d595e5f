package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	progresspeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/peer/v1"
	"github.com/kinbridge/kinbridge/pkg/auth"
)

// family sets up one child with a guardian (maria) and a contributor
// (teacher), and returns the child's name.
func (s *suite) family(t *testing.T) string {
	t.Helper()
	child := s.mustCreate(t, "/v1/children", s.adminToken,
		`{"displayName":"Ada","birthDate":"2017-05-02","school":"Hill Primary","gradeLevel":"3","timeZone":"Europe/Lisbon"}`)
	name := child["name"].(string)
	s.mustCreate(t, "/v1/"+name+"/guardians", s.adminToken, `{"user":"maria","role":"ROLE_GUARDIAN","relation":"mother"}`)
	s.mustCreate(t, "/v1/"+name+"/guardians", s.adminToken, `{"user":"teacher","role":"ROLE_CONTRIBUTOR"}`)
	return name
}

func TestWhoSeesWhat(t *testing.T) {
	s := startSuite(t)
	child := s.family(t)
	maria := s.userToken(t, "maria", false)
	olga := s.userToken(t, "olga", false)

	tests := []struct {
		name, method, path, token, body string
		status                          int
		contains                        string
	}{
		{"guardian reads the child", "GET", "/v1/" + child, maria, "", 200, `"displayName":"Ada"`},
		{"guardian lists her children", "GET", "/v1/children", maria, "", 200, child},
		{"guardian lists the guardians", "GET", "/v1/" + child + "/guardians", maria, "", 200, `"user":"teacher"`},
		{"another family does not see the child", "GET", "/v1/" + child, olga, "", 404, "not found"},
		{"another family lists nothing", "GET", "/v1/children", olga, "", 200, `{}`},
		{"another family cannot see the guardians", "GET", "/v1/" + child + "/guardians", olga, "", 404, "not found"},
		{"guardian cannot change the child", "PATCH", "/v1/" + child, maria, `{"school":"Elsewhere"}`, 403, "administrators"},
		{"guardian cannot grant access", "POST", "/v1/" + child + "/guardians", maria, `{"user":"x","role":"ROLE_GUARDIAN"}`, 403, "administrators"},
		{"a stranger cannot delete", "DELETE", "/v1/" + child, olga, "", 404, "not found"},
		{"users cannot create children", "POST", "/v1/children", maria, `{"displayName":"Bo"}`, 403, "administrators"},
		{"no token", "GET", "/v1/" + child, "", "", 401, "missing bearer token"},
		{"a service identity is not accepted from outside", "GET", "/v1/" + child, s.serviceToken(t, "media"), "", 401, "service tokens"},
		{"the service-only API has no REST route", "POST", "/v1/kinbridge.progress.peer.v1.AccessService/CheckAccess", s.serviceToken(t, "media"), "{}", 401, ""},
		{"the service-only API has no REST route (user)", "POST", "/kinbridge.progress.peer.v1.AccessService/CheckAccess", maria, "{}", 404, "no route"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.call(t, tt.method, tt.path, tt.token, tt.body)
			if r.status != tt.status || !strings.Contains(string(r.body), tt.contains) {
				t.Fatalf("got %d %s, want %d containing %q", r.status, r.body, tt.status, tt.contains)
			}
			if r.status >= 400 {
				body := r.json(t)
				if body["code"] == nil || body["message"] == nil {
					t.Fatalf("error body lacks code or message: %s", r.body)
				}
			}
		})
	}
}

// TestRefusalsChangeNothing sends bad requests of every kind and checks
// each gets the right status and a clear message, and that the child is
// exactly as it was.
func TestRefusalsChangeNothing(t *testing.T) {
	s := startSuite(t)
	child := s.family(t)
	before := s.call(t, "GET", "/v1/"+child, s.adminToken, "").body

	otherKey := func() ed25519.PrivateKey {
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}()
	userKey, err := auth.LoadKey(filepath.Join(s.dataDir, "keys", "user.pem"))
	if err != nil {
		t.Fatal(err)
	}
	sign := func(key ed25519.PrivateKey, claims jwt.MapClaims) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
		tok.Header["kid"] = auth.KeyID(key.Public().(ed25519.PublicKey))
		out, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	now := time.Now()
	adminClaims := func(exp time.Time) jwt.MapClaims {
		return jwt.MapClaims{"iss": auth.Issuer, "aud": auth.UserAudience, "sub": "admin", "admin": true,
			"iat": now.Add(-2 * time.Hour).Unix(), "nbf": now.Add(-2 * time.Hour).Unix(), "exp": exp.Unix()}
	}
	forged := sign(otherKey, adminClaims(now.Add(time.Hour)))
	expired := sign(userKey, adminClaims(now.Add(-time.Hour)))
	patch := "/v1/" + child

	tests := []struct {
		name, method, path, token, body string
		status                          int
		contains                        string
		field                           string // a field violation expected in the details
	}{
		{"missing token", "PATCH", patch, "", `{"school":"X"}`, 401, "missing bearer token", ""},
		{"not a bearer header", "PATCH", patch, "-", `{"school":"X"}`, 401, "Bearer", ""},
		{"forged token", "PATCH", patch, forged, `{"school":"X"}`, 401, "unknown signing key", ""},
		{"expired token", "PATCH", patch, expired, `{"school":"X"}`, 401, "expired", ""},
		{"malformed body", "PATCH", patch, s.adminToken, `{"school":`, 400, "unexpected EOF", ""},
		{"unknown field", "PATCH", patch, s.adminToken, `{"school":"X","favouriteColour":"red"}`, 400, `unknown field \"favouriteColour\"`, ""},
		{"wrong type", "PATCH", patch, s.adminToken, `{"school":7}`, 400, "school", ""},
		{"too long", "PATCH", patch, s.adminToken, `{"school":"` + strings.Repeat("x", 201) + `"}`, 400, "at most 200", "child.school"},
		{"bad date shape", "PATCH", patch, s.adminToken, `{"birthDate":"May 2nd"}`, 400, "birthDate", "child.birthDate"},
		{"impossible date", "PATCH", patch, s.adminToken, `{"birthDate":"2017-02-30"}`, 400, "not a real date", "child.birthDate"},
		{"unknown time zone", "PATCH", patch, s.adminToken, `{"timeZone":"Mars/Olympus"}`, 400, "IANA", "child.timeZone"},
		{"clearing the name", "PATCH", patch + "?updateMask=displayName", s.adminToken, `{"displayName":""}`, 400, "must not be empty", "child.displayName"},
		{"unknown mask path", "PATCH", patch + "?updateMask=school,shoeSize", s.adminToken, `{"school":"X"}`, 400, "cannot be updated", "updateMask"},
		{"stale etag", "PATCH", patch, s.adminToken, `{"school":"X","etag":"v99"}`, 409, "changed by someone else", ""},
		{"foreign etag", "PATCH", patch, s.adminToken, `{"school":"X","etag":"abc"}`, 400, "etag", "child.etag"},
		{"stale etag on delete", "DELETE", "/v1/" + child + "?etag=v99", s.adminToken, "", 409, "changed by someone else", ""},
		{"create without a name", "POST", "/v1/children", s.adminToken, `{"school":"X"}`, 400, "is required", "child.displayName"},
		{"assessment without a subject", "POST", "/v1/" + child + "/assessments", s.adminToken,
			`{"title":"Quiz","kind":"ASSESSMENT_KIND_TEST","assessedDate":"2026-03-01"}`, 400, "is required", "assessment.subject"},
		{"assessment without a day", "POST", "/v1/" + child + "/assessments", s.adminToken,
			`{"subject":"Math","title":"Quiz","kind":"ASSESSMENT_KIND_TEST"}`, 400, "is required", "assessment.assessedDate"},
		{"assessment without a kind", "POST", "/v1/" + child + "/assessments", s.adminToken,
			`{"subject":"Math","title":"Quiz","assessedDate":"2026-03-01"}`, 400, "is required", "assessment.kind"},
		{"milestone without a title", "POST", "/v1/" + child + "/milestones", s.adminToken,
			`{"achievedDate":"2026-03-01"}`, 400, "is required", "milestone.title"},
		{"guardian without a user", "POST", "/v1/" + child + "/guardians", s.adminToken, `{"role":"ROLE_GUARDIAN"}`, 400, "is required", "guardianship.user"},
		{"guardian without a role", "POST", "/v1/" + child + "/guardians", s.adminToken, `{"user":"z"}`, 400, "role", "guardianship.role"},
		{"guardian with a bad role", "POST", "/v1/" + child + "/guardians", s.adminToken, `{"user":"z","role":"ROLE_KING"}`, 400, "ROLE_KING", ""},
		{"duplicate guardian", "POST", "/v1/" + child + "/guardians", s.adminToken, `{"user":"maria","role":"ROLE_CONTRIBUTOR"}`, 409, "already exists", ""},
		{"page size too large", "GET", "/v1/children?pageSize=5000", s.adminToken, "", 400, "pageSize", "pageSize"},
		{"forged page token", "GET", "/v1/children?pageToken=bm9wZQ", s.adminToken, "", 400, "pageToken", "pageToken"},
		{"bad resource name", "GET", "/v1/children/NOT_VALID", s.adminToken, "", 400, "name", "name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token := tt.token
			headers := []string{}
			if token == "-" {
				token = ""
				headers = []string{"Authorization", "Basic dXNlcjpwYXNz"}
			}
			r := s.call(t, tt.method, tt.path, token, tt.body, headers...)
			if r.status != tt.status || !strings.Contains(string(r.body), tt.contains) {
				t.Fatalf("got %d %s, want %d containing %q", r.status, r.body, tt.status, tt.contains)
			}
			if tt.field != "" && !hasFieldViolation(t, r, tt.field) {
				t.Fatalf("no field violation for %s in %s", tt.field, r.body)
			}
			if tt.status == 401 && r.header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			if after := s.call(t, "GET", "/v1/"+child, s.adminToken, "").body; string(after) != string(before) {
				t.Fatalf("the child changed:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
	guardians := s.call(t, "GET", "/v1/"+child+"/guardians", s.adminToken, "")
	if strings.Count(string(guardians.body), `"name"`) != 2 {
		t.Fatalf("guardianships changed: %s", guardians.body)
	}
}

func hasFieldViolation(t *testing.T, r response, field string) bool {
	t.Helper()
	details, _ := r.json(t)["details"].([]any)
	for _, d := range details {
		d := d.(map[string]any)
		if d["@type"] != "type.googleapis.com/google.rpc.BadRequest" {
			continue
		}
		for _, fv := range d["fieldViolations"].([]any) {
			if fv.(map[string]any)["field"] == field {
				return true
			}
		}
	}
	return false
}

func TestUpdatesAndEtags(t *testing.T) {
	s := startSuite(t)
	child := s.family(t)
	got := s.call(t, "GET", "/v1/"+child, s.adminToken, "").json(t)
	etag := got["etag"].(string)

	r := s.call(t, "PATCH", "/v1/"+child, s.adminToken, `{"school":"River School","etag":"`+etag+`"}`)
	if r.status != 200 {
		t.Fatalf("update: %d %s", r.status, r.body)
	}
	updated := r.json(t)
	if updated["school"] != "River School" || updated["displayName"] != "Ada" || updated["gradeLevel"] != "3" {
		t.Fatalf("a partial update must change only what it names: %s", r.body)
	}
	if updated["etag"] == etag {
		t.Fatal("etag did not change")
	}
	// The old etag is now stale.
	if r := s.call(t, "PATCH", "/v1/"+child, s.adminToken, `{"school":"Other","etag":"`+etag+`"}`); r.status != 409 {
		t.Fatalf("stale etag: %d %s", r.status, r.body)
	}
	g := s.call(t, "PATCH", "/v1/"+child+"/guardians/maria", s.adminToken, `{"role":"ROLE_CONTRIBUTOR"}`)
	if g.status != 200 || g.json(t)["relation"] != "mother" {
		t.Fatalf("guardianship update: %d %s", g.status, g.body)
	}
	if r := s.call(t, "DELETE", "/v1/"+child+"/guardians/maria", s.adminToken, ""); r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	maria := s.userToken(t, "maria", false)
	if r := s.call(t, "GET", "/v1/"+child, maria, ""); r.status != 404 {
		t.Fatalf("revoked guardian still reads the child: %d", r.status)
	}
	if r := s.call(t, "DELETE", "/v1/"+child, s.adminToken, ""); r.status != 200 {
		t.Fatalf("delete child: %d %s", r.status, r.body)
	}
	if r := s.call(t, "GET", "/v1/"+child+"/guardians/teacher", s.adminToken, ""); r.status != 404 {
		t.Fatalf("guardianship outlived its child: %d %s", r.status, r.body)
	}
}

func TestPagination(t *testing.T) {
	s := startSuite(t)
	want := map[string]bool{}
	for range 7 {
		want[s.mustCreate(t, "/v1/children", s.adminToken, `{"displayName":"Kid"}`)["name"].(string)] = true
	}
	seen := map[string]bool{}
	token := ""
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("pagination does not end")
		}
		r := s.call(t, "GET", "/v1/children?pageSize=3&pageToken="+token, s.adminToken, "").json(t)
		children, _ := r["children"].([]any)
		for _, c := range children {
			name := c.(map[string]any)["name"].(string)
			if seen[name] {
				t.Fatalf("%s on two pages", name)
			}
			seen[name] = true
		}
		token, _ = r["nextPageToken"].(string)
		if token == "" {
			break
		}
	}
	if len(seen) != len(want) {
		t.Fatalf("listed %d children, created %d", len(seen), len(want))
	}
}

// TestServiceOnlyAPI checks that CheckAccess answers service identities
// only, and that reflection lists the public services for grpcurl users.
func TestServiceOnlyAPI(t *testing.T) {
	s := startSuite(t)
	child := s.family(t)
	conn, err := grpc.NewClient(s.progress, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := progresspeerv1.NewAccessServiceClient(conn)
	ask := func(token, user string, p progresspeerv1.Permission) (*progresspeerv1.CheckAccessResponse, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if token != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
		}
		return client.CheckAccess(ctx, &progresspeerv1.CheckAccessRequest{Child: child, User: user, Permission: p})
	}
	if _, err := ask("", "maria", progresspeerv1.Permission_PERMISSION_VIEW); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("no token: %v", err)
	}
	for _, tok := range []string{s.adminToken, s.userToken(t, "maria", false)} {
		if _, err := ask(tok, "maria", progresspeerv1.Permission_PERMISSION_VIEW); status.Code(err) != codes.PermissionDenied {
			t.Fatalf("user token: %v", err)
		}
	}
	svc := s.serviceToken(t, "media")
	cases := []struct {
		user    string
		perm    progresspeerv1.Permission
		allowed bool
	}{
		{"maria", progresspeerv1.Permission_PERMISSION_VIEW, true},
		{"maria", progresspeerv1.Permission_PERMISSION_CONTRIBUTE, false},
		{"teacher", progresspeerv1.Permission_PERMISSION_CONTRIBUTE, true},
		{"olga", progresspeerv1.Permission_PERMISSION_VIEW, false},
	}
	for _, c := range cases {
		resp, err := ask(svc, c.user, c.perm)
		if err != nil || resp.Allowed != c.allowed || !resp.ChildExists {
			t.Errorf("%s %s: %v %v", c.user, c.perm, resp, err)
		}
	}
	if _, err := ask(svc, "maria", progresspeerv1.Permission_PERMISSION_UNSPECIFIED); status.Code(err) != codes.InvalidArgument {
		t.Errorf("unspecified permission: %v", err)
	}

	spec := s.call(t, "GET", "/openapi.json", "", "")
	if spec.status != 200 || !strings.Contains(string(spec.body), "ProgressService") {
		t.Fatalf("spec: %d", spec.status)
	}
	for _, hidden := range []string{"CheckAccess", "AccessService", "peer"} {
		if strings.Contains(string(spec.body), hidden) {
			t.Errorf("the OpenAPI spec mentions %q", hidden)
		}
	}
	if docs := s.call(t, "GET", "/docs", "", ""); docs.status != 200 || !strings.Contains(string(docs.body), "swagger-ui") {
		t.Errorf("docs page: %d", docs.status)
	}

	stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, svc := range resp.GetListServicesResponse().GetService() {
		names = append(names, svc.GetName())
	}
	if !strings.Contains(strings.Join(names, " "), "kinbridge.progress.v1.ProgressService") {
		t.Fatalf("reflection lists %v", names)
	}
	stream.CloseSend()
}

func TestMetricsPerRPC(t *testing.T) {
	s := startSuite(t)
	s.family(t)
	s.call(t, "GET", "/v1/children/nobody", s.adminToken, "")
	r, err := http.Get(s.metrics)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	var body strings.Builder
	if _, err := io.Copy(&body, r.Body); err != nil {
		t.Fatal(err)
	}
	text := body.String()
	for _, want := range []string{
		`rpc_server_call_duration_seconds_count{rpc_method="kinbridge.progress.v1.ProgressService/CreateGuardianship",rpc_response_status_code="OK"`,
		`rpc_server_call_duration_seconds_bucket{rpc_method="kinbridge.progress.v1.ProgressService/GetChild",rpc_response_status_code="NOT_FOUND"`,
		`http_route="/v1/{parent=children/*}/guardians"`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(text, "children/nobody") {
		t.Error("a raw path leaked into a metric label")
	}
}
