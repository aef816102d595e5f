//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The family app (web/, served by the gateway at /) in Debian's headless
// Chromium, driven by e2e/clients/app-*.mjs (playwright-core): the
// journeys of issue 15 through a real `kinbridge serve all`. Every page a
// journey sees is audited at the viewport it is shown in (375x667 unless
// said): the document is no wider than the window, and axe-core finds no
// serious or critical violation. Without chromium or node the tests skip,
// unless KINBRIDGE_TEST_REQUIRE names them.

// appTimeout bounds one journey script.
const appTimeout = 4 * time.Minute

// pageAudit is what app-lib.mjs's Journal.audit recorded for one page.
type pageAudit struct {
	Name        string `json:"name"`
	Path        string `json:"path"`
	ScrollWidth int    `json:"scrollWidth"`
	InnerWidth  int    `json:"innerWidth"`
	Violations  []struct {
		ID      string   `json:"id"`
		Impact  string   `json:"impact"`
		Help    string   `json:"help"`
		Targets []string `json:"targets"`
	} `json:"violations"`
}

// journal is what every journey script reports besides its own findings.
type journal struct {
	Kind    string      `json:"kind"`
	Message string      `json:"message"`
	Audits  []pageAudit `json:"audits"`
	Dialogs []string    `json:"dialogs"`
	Console []string    `json:"console"`
	Steps   []string    `json:"steps"`
}

// runApp runs `node script args...` in the clients directory with env and
// decodes its last stdout line into res (which embeds a journal). secrets
// are replaced in what is logged.
func runApp(t *testing.T, dir string, env []string, secrets []string, res any, script string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), appTimeout+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", append([]string{script}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	printed := stdout.String() + stderr.String()
	for _, s := range secrets {
		if s != "" {
			printed = strings.ReplaceAll(printed, s, "<secret>")
		}
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var j journal
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &j); err != nil || runErr != nil || j.Kind != "result" {
		t.Fatalf("%s: %v; it printed:\n%s", script, runErr, printed)
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), res); err != nil {
		t.Fatalf("%s: %v", script, err)
	}
	t.Logf("%s printed:\n%s", script, printed)
}

// checkJournal fails on a page wider than its window, a serious or
// critical accessibility violation, a dialog nobody asked for (an alert
// would be script that user text injected) and page errors.
func checkJournal(t *testing.T, j journal, wantPages int) {
	t.Helper()
	if len(j.Audits) < wantPages {
		t.Errorf("%d pages audited, want at least %d", len(j.Audits), wantPages)
	}
	for _, a := range j.Audits {
		if a.InnerWidth == 0 || a.ScrollWidth > a.InnerWidth {
			t.Errorf("%s (%s) scrolls horizontally: document %dpx wide in a %dpx window", a.Name, a.Path, a.ScrollWidth, a.InnerWidth)
		}
		for _, v := range a.Violations {
			t.Errorf("%s (%s): axe-core %s violation %s (%s) at %v", a.Name, a.Path, v.Impact, v.ID, v.Help, v.Targets)
		}
	}
	for _, d := range j.Dialogs {
		if !strings.Contains(d, "confirm:") {
			t.Errorf("a dialog opened: %s", d)
		}
	}
	for _, c := range j.Console {
		if strings.Contains(c, "pageerror") {
			t.Errorf("the page threw: %s", c)
		}
	}
}

// newcomerResult is what e2e/clients/app-newcomer.mjs prints.
type newcomerResult struct {
	journal
	User           string `json:"user"`
	ChildPath      string `json:"childPath"`
	PickerText     string `json:"pickerText"`
	ChildHeading   string `json:"childHeading"`
	HostileHeading string `json:"hostileHeading"`
	HostileAdmin   string `json:"hostileAdminText"`
	InjectedImages int    `json:"injectedImages"`
	Again          struct {
		URL     string         `json:"url"`
		Session map[string]any `json:"session"`
		Text    string         `json:"text"`
	} `json:"again"`
}

// TestAppNewcomer is the "Done when": a newcomer starts the suite
// as `make run` does (serve all on embedded defaults, no flags of ours but
// ports), opens the one-time link the banner prints, and with the app alone
// adds a child, follows it and sees its page. The link signs in once.
func TestAppNewcomer(t *testing.T) {
	chromium := needChromium(t)
	dir := nodeClients(t)
	p := serve(t, t.TempDir(), nil)
	if !strings.HasPrefix(p.signInLink, "http://"+p.gateway+"/auth/link?code=") {
		t.Fatalf("the banner's sign-in link is %q, want one on the gateway %s", p.signInLink, p.gateway)
	}
	var res newcomerResult
	runApp(t, dir, []string{"KINBRIDGE_LINK=" + p.signInLink}, []string{p.signInLink, p.adminToken}, &res,
		"app-newcomer.mjs", chromium, strconv.FormatInt(appTimeout.Milliseconds(), 10))
	checkJournal(t, res.journal, 10)

	if res.User != "admin" {
		t.Errorf("the link signed in %q, want the administrator admin", res.User)
	}
	if res.ChildHeading != "Ada Lovelace" || !strings.Contains(res.PickerText, "Guardian") || !strings.Contains(res.PickerText, "parent") {
		t.Errorf("the child's page is headed %q, its card on the picker says %q; want Ada Lovelace, Guardian · parent", res.ChildHeading, res.PickerText)
	}
	// What the app did is in the suite: the signed-in user follows the
	// child, as GET /v1/users/me says with a token of the same user.
	_, body := apiCall(t, p.gateway, "GET", "/v1/users/me", p.adminToken, "", nil)
	var me struct {
		Children []struct {
			Child, DisplayName, Role, Relation string
		} `json:"children"`
	}
	if err := json.Unmarshal(body, &me); err != nil {
		t.Fatalf("users/me: %v %s", err, body)
	}
	followed := false
	for _, c := range me.Children {
		if "/"+c.Child == res.ChildPath && c.DisplayName == "Ada Lovelace" && c.Role == "ROLE_GUARDIAN" && c.Relation == "parent" {
			followed = true
		}
	}
	if !followed {
		t.Errorf("users/me of admin is %s; want it to follow %s as guardian (parent)", body, res.ChildPath)
	}

	// User text is text.
	const hostile = "<img src=x onerror=alert(1)>"
	if res.HostileHeading != hostile || res.HostileAdmin != hostile || res.InjectedImages != 0 {
		t.Errorf("a child named %s shows as %q (timeline) and %q (admin), %d img[src=x] in the page; want the name as text and no image",
			hostile, res.HostileHeading, res.HostileAdmin, res.InjectedImages)
	}

	// The link works once.
	if res.Again.URL != "/signin?error=link" || res.Again.Session["signedIn"] != false || !strings.Contains(res.Again.Text, "already used") {
		t.Errorf("the link opened again led to %s, session %v, page %q; want /signin?error=link, signed out, and why", res.Again.URL, res.Again.Session, res.Again.Text)
	}
}

