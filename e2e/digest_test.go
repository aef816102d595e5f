//go:build e2e

package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/timestamppb"

	notificationpeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/peer/v1"
	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
	"github.com/kinbridge/kinbridge/pkg/auth"
	"github.com/kinbridge/kinbridge/pkg/testenv"
)

// digestPublicURL is the suite's --public-url in the digest journey: the
// links in its mails start with it, and the journey sends them to the
// gateway's real address, as a reverse proxy in front of it would.
const digestPublicURL = "http://kinbridge.localhost"

// TestDigestJourney runs the daily digest in `kinbridge serve all` with a
// real SMTP server (Mailpit) and the system clock, through the gateway.
//
// Nothing in the suite lets a caller move its clock: a digest covers a
// local day that has ended, so the journey makes one due now without a
// backdoor. It gives the user quiet hours that ended a minute ago (the
// digest goes when they end) and an event that occurred yesterday,
// delivered the way progress's outbox delivers a late event: Publish on
// the service-only API, with a service identity signed by the suite's
// service key (which only the operator holds). The scheduler's days, time
// zones, restarts, concurrent instances and crash window are tested
// against a real Mailpit in services/notification/digest, on a clock the
// tests drive.
func TestDigestJourney(t *testing.T) {
	mp := testenv.StartMailpit(t)
	dataDir := t.TempDir()
	p := serve(t, dataDir, nil, "--smtp-addr", mp.SMTPAddr, "--public-url", digestPublicURL, "--digest-interval", "200ms")
	gw := "http://" + p.gateway
	ana := userToken(t, dataDir, "ana")

	var child struct{ Name string }
	restJSON(t, "POST", gw+"/v1/children", p.adminToken, `{"displayName": "Lia"}`, http.StatusOK, &child)
	restJSON(t, "POST", gw+"/v1/"+child.Name+"/guardians", p.adminToken, `{"user": "ana", "role": "ROLE_GUARDIAN"}`, http.StatusOK, nil)

	// Ana's address, confirmed with the link mailed to it.
	restJSON(t, "PATCH", gw+"/v1/users/me/settings?updateMask=email", ana, `{"email": "ana@example.test"}`, http.StatusOK, nil)
	confirm := regexp.MustCompile(regexp.QuoteMeta(digestPublicURL) + `/settings/confirm#([A-Za-z0-9_-]+)`)
	var confirmToken string
	testenv.Eventually(t, "the confirmation mail", func() string {
		for _, m := range mp.Messages(t) {
			if mm := confirm.FindStringSubmatch(mp.Message(t, m.ID).Text); mm != nil {
				confirmToken = mm[1]
				return ""
			}
		}
		return "not in mailpit"
	})
	restJSON(t, "POST", gw+"/v1/settings:confirmEmail", "", fmt.Sprintf(`{"token": %q}`, confirmToken), http.StatusOK, nil)

	yesterday := makeDigestDue(t, p, child.Name, ana, "Lia read her first book <alone>", 1)

	// The digest, as the running suite sent it.
	day := yesterday.Format(time.DateOnly)
	sum := sha256.Sum256([]byte("ana"))
	wantID := "digest." + hex.EncodeToString(sum[:])[:16] + "." + day + "@kinbridge.localhost"
	var digestID string
	testenv.Eventually(t, "the digest in mailpit", func() string {
		for _, m := range mp.Messages(t) {
			if m.MessageID == wantID {
				digestID = m.ID
				return ""
			}
		}
		return "no message " + wantID
	})
	mail, h := mp.Message(t, digestID), mp.Headers(t, digestID)
	if len(mail.To) != 1 || mail.To[0].Address != "ana@example.test" || !strings.Contains(mail.Text, "Lia read her first book <alone>") ||
		!strings.Contains(mail.HTML, "Lia read her first book &lt;alone&gt;") || !strings.Contains(mail.Text, digestPublicURL+"/"+child.Name) {
		t.Errorf("digest = %+v", mail)
	}
	if got := strings.Join(h["List-Unsubscribe-Post"], ","); got != "List-Unsubscribe=One-Click" {
		t.Errorf("List-Unsubscribe-Post = %q", got)
	}
	header := regexp.MustCompile(`^<` + regexp.QuoteMeta(digestPublicURL) + `(/v1/digest:unsubscribe\?token=([A-Za-z0-9_-]+))>$`).
		FindStringSubmatch(strings.Join(h["List-Unsubscribe"], ","))
	link := regexp.MustCompile(regexp.QuoteMeta(digestPublicURL) + `/settings/unsubscribe#([A-Za-z0-9_-]+)`).FindStringSubmatch(mail.Text)
	if header == nil || link == nil || header[2] != link[1] {
		t.Fatalf("List-Unsubscribe %q, visible link %v", h["List-Unsubscribe"], link)
	}

	// The README's block: one-click as a mail client posts it, then the
	// app's JSON form, then an unknown token; no sign-in anywhere.
	out := runScript(t, context.Background(), p.asWritten(readmeBlock(t, "digest")), []string{"DIGEST_TOKEN=" + header[2]})
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 3 || lines[0] != "{}" || lines[1] != "{}" || lines[2] != "404" {
		t.Errorf("the README's digest block printed:\n%s", out)
	}
	var after struct {
		DigestEnabled bool
		EmailState    string
	}
	restJSON(t, "GET", gw+"/v1/users/me/settings", ana, "", http.StatusOK, &after)
	if after.DigestEnabled || after.EmailState != notificationv1.EmailState_EMAIL_STATE_CONFIRMED.String() {
		t.Errorf("after unsubscribing, settings = %+v", after)
	}
	// The header's URL, exactly as mailed, works through the gateway too.
	restJSON(t, "POST", gw+header[1], "", "", http.StatusOK, nil)
	if strings.Contains(p.stderr.String(), header[2]) {
		t.Error("the unsubscribe token is in the suite's log")
	}
}

// userToken issues a user's token with the binary under test.
func userToken(t *testing.T, dataDir, user string) string {
	t.Helper()
	out, err := exec.Command(bin, "token", "issue", "--user", user, "--data-dir", dataDir).Output()
	if err != nil {
		t.Fatalf("token issue --user %s: %v", user, err)
	}
	return strings.TrimSpace(string(out))
}

// makeDigestDue makes a digest due now for the user of token, about child,
// and returns the day it covers: quiet hours that ended a minute ago (the
// digest goes when they end), in a zone where that is still today (near
// midnight UTC, one twelve hours behind), and an event that occurred
// yesterday, published late for the child's guardians (recipients of
// them, or at least one when 0).
func makeDigestDue(t *testing.T, p *process, child, token, title string, recipients int) time.Time {
	t.Helper()
	zone := "UTC"
	if now := time.Now().UTC(); now.Hour() == 0 && now.Minute() < 5 {
		zone = "Etc/GMT+12"
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	local := time.Now().In(loc)
	settings := fmt.Sprintf(`{"timeZone": %q, "quietHours": {"start": %q, "end": %q}, "digestEnabled": true}`,
		zone, local.Add(-3*time.Minute).Format("15:04"), local.Add(-time.Minute).Format("15:04"))
	restJSON(t, "PATCH", "http://"+p.gateway+"/v1/users/me/settings?updateMask=timeZone,quietHours,digestEnabled", token, settings, http.StatusOK, nil)
	y, m, d := local.Date()
	yesterday := time.Date(y, m, d-1, 12, 0, 0, 0, loc)
	publishLate(t, p, child, title, yesterday, recipients)
	return yesterday
}

// publishLate delivers an event about child that occurred at `at`, as
// progress's outbox relay does (with a service identity of the suite), and
// checks it reached recipients users (at least one when 0).
func publishLate(t *testing.T, p *process, child, title string, at time.Time, recipients int) {
	t.Helper()
	key, err := auth.LoadKey(filepath.Join(p.dataDir, "keys", "service.pem"))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(p.notification, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(auth.NewServiceIdentity(key, "progress")))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := notificationpeerv1.NewPublishServiceClient(conn).Publish(ctx, &notificationpeerv1.PublishRequest{Event: &notificationpeerv1.Event{
		Id: fmt.Sprintf("late-%d", time.Now().UnixNano()), Type: notificationv1.EventType_EVENT_TYPE_MILESTONE_ACHIEVED,
		Child: child, Title: title, Body: "A milestone", Link: child, OccurTime: timestamppb.New(at), Actor: "teacher",
	}})
	if got := int(resp.GetRecipientCount()); err != nil || (recipients > 0 && got != recipients) || got < 1 {
		t.Fatalf("Publish = %v, %v; want %d recipients", resp, err, recipients)
	}
}

// restJSON makes one REST call (token "" sends none), checks the status
// and decodes the answer into out when given.
func restJSON(t *testing.T, method, url, token, body string, want int, out any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d %s, want %d", method, url, resp.StatusCode, b, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, url, err, b)
		}
	}
}
