//go:build e2e

package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kinbridge/kinbridge/pkg/testenv"
)

// bridgeResult is what e2e/clients/app-bridge.mjs prints.
type bridgeResult struct {
	journal
	GuardianRoleChoice int      `json:"guardianRoleChoice"`
	Link               string   `json:"link"`
	Copied             string   `json:"copied"`
	Joined             string   `json:"joined"`
	JoinURL            string   `json:"joinURL"`
	GrandmaTabs        []string `json:"grandmaTabs"`
	Retried            string   `json:"retried"`
	UsedAgain          string   `json:"usedAgain"`
	Revoked            string   `json:"revoked"`
	Unknown            string   `json:"unknown"`
	Invitations        []string `json:"invitations"`
	JoinedEntry        string   `json:"joinedEntry"`
	TooLong            struct {
		Error, Invalid, Hint string
	} `json:"tooLong"`
	TeacherHeart        string `json:"teacherHeart"`
	TeacherSaw          string `json:"teacherSaw"`
	GrandmaAfterRemoval string `json:"grandmaAfterRemoval"`
	AuthorDraft         string `json:"authorDraft"`
	AuthorApprove       int    `json:"authorApprove"`
	GrandmaSawDraft     int    `json:"grandmaSawDraft"`
	GrandmaSawApproved  int    `json:"grandmaSawApproved"`
	EmailStateBefore    string `json:"emailStateBefore"`
	EmailStatePending   string `json:"emailStatePending"`
	ConfirmPage         string `json:"confirmPage"`
	EmailStateAfter     string `json:"emailStateAfter"`
	SettingsAfterReload struct {
		TimeZone, From, Until string
		Digest                bool
	} `json:"settingsAfterReload"`
	UnsubscribePage        string `json:"unsubscribePage"`
	UnsubscribeRefused     string `json:"unsubscribeRefused"`
	DigestAfterUnsubscribe *bool  `json:"digestAfterUnsubscribe"`
}

// bridgeSteps are the journey's parts (app-bridge.mjs's KINBRIDGE_STEPS).
var bridgeSteps = []string{"invite", "discuss", "approval", "settings"}

// TestAppBridge is issue 16's browser journeys: an administrator, a
// guardian, grandma and two teachers, each signed in through a real
// OpenID provider's form in a browser context of their own. The guardian
// invites grandma (the administrator allowed it), grandma redeems the link
// and sees the child; she hearts and comments on an assessment, a teacher
// sees it and removes the comment; with approval required, teacher A's
// assessment is hidden from grandma until teacher B approves it; grandma
// sets her time zone, quiet hours and an e-mail, which she confirms with
// the link mailed to a real Mailpit, and unsubscribes from the digest.
func TestAppBridge(t *testing.T) {
	chromium := needChromium(t)
	dir := nodeClients(t)
	steps := bridgeSteps
	if s := os.Getenv("KINBRIDGE_BRIDGE_STEPS"); s != "" { // to work on one part
		steps = strings.Split(s, ",")
	}
	var mail *testenv.Mailpit
	var smtp []string
	if slices.Contains(steps, "settings") {
		mail = testenv.StartMailpit(t)
		smtp = []string{"--smtp-addr", mail.SMTPAddr, "--smtp-from", "Kinbridge <kinbridge@example.org>", "--digest-interval", "200ms"}
	}
	idp := testenv.StartOIDCProvider(t)
	users := map[string]string{}
	for role, sub := range map[string]string{"admin": "principal", "guardian": "maria", "grandma": "grandma", "teacher": "teacher", "teacherB": "teacherb"} {
		idp.AddUser(sub+"@idp", sub, sub+"-password")
		users[role] = sub + ":" + sub + "-password"
	}

	gatewayAddr := freePort(t)
	public := "http://" + gatewayAddr
	p := serve(t, t.TempDir(), nil, append([]string{"--gateway-listen", gatewayAddr, "--public-url", public,
		"--oidc-issuer", idp.Issuer, "--oidc-client-id", "kinbridge-web", "--oidc-client-secret", "web-secret",
		"--oidc-admin-subjects", "principal@idp"}, smtp...)...)
	idp.AddClient("kinbridge-web", "web-secret", public+"/auth/callback", 0, public+"/signin")

	child := createChild(t, p, "Ada")
	for user, g := range map[string][2]string{
		"maria@idp":    {"ROLE_GUARDIAN", "mother"},
		"teacher@idp":  {"ROLE_CONTRIBUTOR", "teacher"},
		"teacherb@idp": {"ROLE_CONTRIBUTOR", "head teacher"},
	} {
		body, _ := json.Marshal(map[string]string{"user": user, "role": g[0], "relation": g[1]})
		if code, out := apiCall(t, p.gateway, "POST", "/v1/"+child+"/guardians", p.adminToken, "application/json", body); code != http.StatusOK {
			t.Fatalf("adding %s: %d %s", user, code, out)
		}
	}
	if !slices.Contains(steps, "invite") { // grandma joins through the link only in that part
		body := []byte(`{"user":"grandma@idp","role":"ROLE_GUARDIAN","relation":"grandmother"}`)
		if code, out := apiCall(t, p.gateway, "POST", "/v1/"+child+"/guardians", p.adminToken, "application/json", body); code != http.StatusOK {
			t.Fatalf("adding grandma: %d %s", code, out)
		}
	}
	quiz := `{"title":"Fractions quiz","subject":"Mathematics","kind":"ASSESSMENT_KIND_TEST","assessedDate":"` + time.Now().Format(time.DateOnly) +
		`","score":{"points":{"earned":18,"possible":20}}}`
	if code, out := apiCall(t, p.gateway, "POST", "/v1/"+child+"/assessments", p.adminToken, "application/json", []byte(quiz)); code != http.StatusOK {
		t.Fatalf("recording the quiz: %d %s", code, out)
	}

	usersJSON, _ := json.Marshal(users)
	// Once grandma has confirmed her address, a digest of yesterday is made
	// due for her (see makeDigestDue), and she follows its unsubscribe link.
	digestDue := func() {
		makeDigestDue(t, p, child, userToken(t, p.dataDir, "grandma@idp"), "Ada rode her bike alone", 0)
	}
	res := runBridge(t, dir, mail, digestDue, []string{"KINBRIDGE_USERS=" + string(usersJSON), "KINBRIDGE_STEPS=" + strings.Join(steps, ",")},
		chromium, public, strings.TrimPrefix(child, "children/"), strconv.FormatInt(appTimeout.Milliseconds(), 10))
	checkJournal(t, res.journal, 2*len(steps))
	for _, s := range steps {
		switch s {
		case "invite":
			checkInvite(t, public, res)
		case "discuss":
			checkDiscuss(t, res)
		case "approval":
			checkApproval(t, res)
		case "settings":
			checkSettings(t, res)
		}
	}
}

func checkInvite(t *testing.T, public string, res bridgeResult) {
	t.Helper()
	if !regexp.MustCompile(`^`+regexp.QuoteMeta(public)+`/join#[A-Za-z0-9_-]{43}$`).MatchString(res.Link) || res.Copied != res.Link {
		t.Errorf("the invitation link is %q (copied %q), want %s/join#<43 characters of base64url>", res.Link, res.Copied, public)
	}
	if res.GuardianRoleChoice != 0 {
		t.Error("a guardian was offered a role to invite with; only administrators choose it")
	}
	if !strings.Contains(res.Joined, "You now follow Ada") || res.JoinURL != "/join" {
		t.Errorf("after signing in through the link grandma's page says %q at %s; want her following Ada, the token off the address", res.Joined, res.JoinURL)
	}
	for what, got := range map[string][2]string{
		"her link again":   {res.Retried, "You now follow Ada"},
		"the used link":    {res.UsedAgain, "already used"},
		"a revoked link":   {res.Revoked, "withdrawn"},
		"an unknown token": {res.Unknown, "not known"},
	} {
		if !strings.Contains(got[0], got[1]) {
			t.Errorf("%s: the join page says %q, want it to say %q", what, got[0], got[1])
		}
	}
	joined := strings.Join(res.Invitations, "\n")
	if !strings.Contains(joined, "grandmother") || !strings.Contains(joined, "Accepted") || !strings.Contains(joined, "accepted by grandma@idp") || !strings.Contains(joined, "Revoked") {
		t.Errorf("the guardian's invitations: %q; want grandmother's accepted by grandma@idp and the uncle's revoked", res.Invitations)
	}
	if !strings.Contains(res.JoinedEntry, "grandma@idp joined, invited by maria@idp") {
		t.Errorf("the timeline's entry says %q, want grandma@idp joined, invited by maria@idp", res.JoinedEntry)
	}
}

func checkDiscuss(t *testing.T, res bridgeResult) {
	t.Helper()
	if !strings.Contains(res.TooLong.Error, "1000") || res.TooLong.Invalid != "true" || !strings.Contains(res.TooLong.Hint, "/1000") {
		t.Errorf("a 1001-character comment: %+v; want the limit said next to the field", res.TooLong)
	}
	if res.TeacherHeart != "false" || !strings.Contains(res.TeacherSaw, "grandma@idp") || !strings.Contains(res.TeacherSaw, "So proud of you, Ada!") {
		t.Errorf("the teacher saw the heart (pressed %s) and the comment %q; want grandma's heart and comment", res.TeacherHeart, res.TeacherSaw)
	}
	if res.GrandmaAfterRemoval != "0 comments" {
		t.Errorf("after the teacher removed it grandma sees %q", res.GrandmaAfterRemoval)
	}
}

func checkApproval(t *testing.T, res bridgeResult) {
	t.Helper()
	if !strings.Contains(res.AuthorDraft, "Awaiting approval") || res.AuthorApprove != 0 {
		t.Errorf("the author's draft shows %q with %d Approve buttons; want it awaiting approval and none", res.AuthorDraft, res.AuthorApprove)
	}
	if res.GrandmaSawDraft != 0 || res.GrandmaSawApproved != 1 {
		t.Errorf("grandma saw the draft %d times, the approved assessment %d times; want 0 and 1", res.GrandmaSawDraft, res.GrandmaSawApproved)
	}
}

func checkSettings(t *testing.T, res bridgeResult) {
	t.Helper()
	if !strings.Contains(res.EmailStatePending, "Waiting for confirmation") || !strings.Contains(res.ConfirmPage, "confirmed") || !strings.Contains(res.EmailStateAfter, "Confirmed") {
		t.Errorf("the e-mail's state: %q, then %q; the confirmation page says %q", res.EmailStatePending, res.EmailStateAfter, res.ConfirmPage)
	}
	s := res.SettingsAfterReload
	if s.TimeZone != "Europe/Berlin" || s.From != "21:00" || s.Until != "07:30" || !s.Digest {
		t.Errorf("the settings after a reload: %+v", s)
	}
	if res.UnsubscribePage == "" {
		t.Errorf("grandma never reached a digest's unsubscribe page")
	}
	if !strings.Contains(res.UnsubscribeRefused, "not known") {
		t.Errorf("an unknown unsubscribe link's page says %q", res.UnsubscribeRefused)
	}
	if !strings.Contains(res.UnsubscribePage, "unsubscribed") || res.DigestAfterUnsubscribe == nil || *res.DigestAfterUnsubscribe {
		t.Errorf("unsubscribing: the page says %q, the digest is then %v", res.UnsubscribePage, res.DigestAfterUnsubscribe)
	}
}

var confirmLink = regexp.MustCompile(`https?://[^\s"<>]+/settings/confirm#[A-Za-z0-9_-]+`)
var unsubscribeLink = regexp.MustCompile(`https?://[^\s"<>]+/settings/unsubscribe#[A-Za-z0-9_-]+`)

// runBridge runs app-bridge.mjs and answers its asks: "confirm" with the
// confirmation link mailed to Mailpit, "unsubscribe" with the unsubscribe
// link of the digest digestDue makes due.
func runBridge(t *testing.T, dir string, mail *testenv.Mailpit, digestDue func(), env []string, args ...string) bridgeResult {
	t.Helper()
	var res bridgeResult
	runAsking(t, dir, "app-bridge.mjs", env, args, func(what string) string {
		switch what {
		case "confirm":
			return mailedLink(t, mail, confirmLink, true)
		case "unsubscribe":
			digestDue()
			var link string
			testenv.Eventually(t, "the digest in mailpit", func() string {
				if link = mailedLink(t, mail, unsubscribeLink, false); link == "" {
					return "no digest with an unsubscribe link yet"
				}
				return ""
			})
			return link
		}
		return "unknown"
	}, &res)
	return res
}

// mailedLink finds re in the messages Mailpit holds, waiting for one when
// wait says so.
func mailedLink(t *testing.T, mail *testenv.Mailpit, re *regexp.Regexp, wait bool) string {
	t.Helper()
	if wait {
		mail.WaitMessages(t, 1)
	}
	for _, m := range mail.Messages(t) {
		body := mail.Message(t, m.ID)
		if l := re.FindString(body.Text + body.HTML); l != "" {
			return l
		}
	}
	return ""
}
