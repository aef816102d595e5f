package digest_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kinbridge/kinbridge/pkg/sqldb"
	"github.com/kinbridge/kinbridge/pkg/testenv"
	"github.com/kinbridge/kinbridge/services/notification/digest"
	"github.com/kinbridge/kinbridge/services/notification/store"
)

const publicURL = "https://kinbridge.example.org"

// backends are the databases every scheduler test runs on: a SQLite file
// (several handles on it, as several instances would have) and PostgreSQL.
var backends = map[string]func(t *testing.T) string{
	"sqlite":   func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "notification.db") },
	"postgres": func(t *testing.T) string { return testenv.Postgres(t) },
}

// openStore opens one instance's handle on the database at dsn.
func openStore(t *testing.T, dsn string) *store.SQL {
	t.Helper()
	db, err := sqldb.Open(context.Background(), dsn, sqldb.Options{Migrations: store.Migrations()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return store.NewSQL(db)
}

type user struct {
	id, tz, email        string
	quietStart, quietEnd int
}

func addUser(t *testing.T, st *store.SQL, u user) {
	t.Helper()
	if u.tz == "" {
		u.tz = "UTC"
	}
	if u.quietStart == 0 && u.quietEnd == 0 {
		u.quietStart, u.quietEnd = store.NoQuietHours, store.NoQuietHours
	}
	if u.email == "" {
		u.email = u.id + "@example.test"
	}
	_, err := st.UpdateSettings(context.Background(), store.Settings{
		User: u.id, TimeZone: u.tz, QuietStart: u.quietStart, QuietEnd: u.quietEnd,
		DigestEnabled: true, Email: u.email, EmailState: store.EmailConfirmed,
	}, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
}

var eventSeq atomic.Int64

// notify delivers a notification to users as created at.
func notify(t *testing.T, st *store.SQL, at time.Time, title string, users ...string) {
	t.Helper()
	n := store.Notification{EventID: fmt.Sprint("ev", eventSeq.Add(1)), Type: 1, ChildID: "c1", Title: title, Body: "Math: 90%", Link: "children/c1/assessments/a", CreateTime: at}
	if _, _, err := st.Deliver(context.Background(), n, users); err != nil {
		t.Fatal(err)
	}
}

// countingMailer counts the sends its mailer accepted.
type countingMailer struct {
	digest.Mailer
	sent atomic.Int64
}

func (m *countingMailer) Send(ctx context.Context, msg *digest.Message) error {
	err := m.Mailer.Send(ctx, msg)
	if err == nil {
		m.sent.Add(1)
	}
	return err
}

func newRunner(t *testing.T, st digest.Store, mailer digest.Mailer) *digest.Runner {
	t.Helper()
	r, err := digest.New(digest.Config{Store: st, Mailer: mailer, PublicURL: publicURL, Lease: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func smtpMailer(t *testing.T, mp *testenv.Mailpit) digest.Mailer {
	t.Helper()
	m, err := digest.NewSMTP(digest.SMTPConfig{Addr: mp.SMTPAddr, From: "Kinbridge <digest@kinbridge.example.org>"})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func runOnce(t *testing.T, r *digest.Runner, now time.Time) digest.Report {
	t.Helper()
	rep, err := r.RunOnce(context.Background(), now)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// day1 is a Monday; its digests go on day 2 at 07:00 UTC.
var (
	day1 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	day2 = day1.AddDate(0, 0, 1)
)

func TestDue(t *testing.T) {
	auckland, _ := time.LoadLocation("Pacific/Auckland")
	la, _ := time.LoadLocation("America/Los_Angeles")
	tests := []struct {
		name    string
		loc     *time.Location
		minute  int
		now     time.Time
		wantDay string
	}{
		{"utc before 07:00", time.UTC, 420, day2.Add(7*time.Hour - time.Second), ""},
		{"utc at 07:00", time.UTC, 420, day2.Add(7 * time.Hour), "2026-03-02"},
		{"utc late evening", time.UTC, 420, day2.Add(23 * time.Hour), "2026-03-02"},
		{"quiet hours end 08:30", time.UTC, 510, day2.Add(8 * time.Hour), ""},
		{"after quiet hours", time.UTC, 510, day2.Add(8*time.Hour + 30*time.Minute), "2026-03-02"},
		// 2026-03-02 18:00Z is 07:00 on 3 March in Auckland (NZDT, +13).
		{"auckland", auckland, 420, time.Date(2026, 3, 2, 18, 0, 0, 0, time.UTC), "2026-03-02"},
		{"auckland a second early", auckland, 420, time.Date(2026, 3, 2, 17, 59, 59, 0, time.UTC), ""},
		// 2026-03-03 15:00Z is 07:00 on 3 March in Los Angeles (PST, -8).
		{"los angeles", la, 420, time.Date(2026, 3, 3, 15, 0, 0, 0, time.UTC), "2026-03-02"},
		// The night DST starts (8 March 2026, 02:00 -> 03:00): the day
		// has 23 hours and 07:00 is 14:00Z.
		{"los angeles after the DST switch", la, 420, time.Date(2026, 3, 9, 14, 0, 0, 0, time.UTC), "2026-03-08"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			day, from, to, ok := digest.Due(tc.loc, tc.minute, tc.now)
			if day != tc.wantDay || ok != (tc.wantDay != "") {
				t.Fatalf("Due = %q %v, want %q", day, ok, tc.wantDay)
			}
			if ok && (from.In(tc.loc).Hour() != 0 || to.In(tc.loc).Hour() != 0 || !to.After(from) || to.Sub(from) > 25*time.Hour) {
				t.Errorf("bounds %v .. %v", from, to)
			}
		})
	}
	if _, from, to, _ := digest.Due(la, 420, time.Date(2026, 3, 9, 14, 0, 0, 0, time.UTC)); to.Sub(from) != 23*time.Hour {
		t.Errorf("the DST day lasts %v", to.Sub(from))
	}
}

func TestMessageIDStable(t *testing.T) {
	a := digest.MessageID("ana", "2026-03-02", "kinbridge.example.org")
	if a != digest.MessageID("ana", "2026-03-02", "kinbridge.example.org") || !regexp.MustCompile(`^digest\.[0-9a-f]{16}\.2026-03-02@kinbridge\.example\.org$`).MatchString(a) {
		t.Errorf("MessageID = %q", a)
	}
	if a == digest.MessageID("bo", "2026-03-02", "kinbridge.example.org") || a == digest.MessageID("ana", "2026-03-03", "kinbridge.example.org") {
		t.Error("MessageID does not tell users or days apart")
	}
}

// Two instances on one database, ticking at once, then a restart: one
// mail per user and day.
func TestTwoRunnersSendOnce(t *testing.T) {
	for name, dsn := range backends {
		t.Run(name, func(t *testing.T) {
			dsn := dsn(t)
			mp := testenv.StartMailpit(t)
			a, b := openStore(t, dsn), openStore(t, dsn)
			users := []string{"ana", "bo", "cy", "dee"}
			for _, u := range users {
				addUser(t, a, user{id: u})
			}
			notify(t, a, day1.Add(9*time.Hour), "New grade", users...)
			notify(t, a, day1.Add(15*time.Hour), "Milestone", users[:2]...)
			mailer := &countingMailer{Mailer: smtpMailer(t, mp)}
			ra, rb := newRunner(t, a, mailer), newRunner(t, b, mailer)

			var wg sync.WaitGroup
			for _, r := range []*digest.Runner{ra, rb} {
				wg.Go(func() {
					for i := range 5 {
						if _, err := r.RunOnce(context.Background(), day2.Add(7*time.Hour+time.Duration(i)*time.Minute)); err != nil {
							t.Error(err)
						}
					}
				})
			}
			wg.Wait()
			if got := mailer.sent.Load(); got != int64(len(users)) {
				t.Fatalf("%d mails sent, want %d", got, len(users))
			}
			// A restart: a new instance, later that day and the next
			// (nothing new happened on day 2).
			rc := newRunner(t, openStore(t, dsn), mailer)
			for _, now := range []time.Time{day2.Add(12 * time.Hour), day2.Add(31 * time.Hour)} {
				if rep := runOnce(t, rc, now); rep.Sent != 0 {
					t.Fatalf("the restarted runner sent %d", rep.Sent)
				}
			}
			msgs := mp.WaitMessages(t, len(users))
			ids := map[string]bool{}
			for _, m := range msgs {
				ids[m.MessageID] = true
			}
			if len(msgs) != len(users) || len(ids) != len(users) {
				t.Fatalf("mailpit holds %d messages with %d Message-IDs, want %d", len(msgs), len(ids), len(users))
			}
			for _, u := range users {
				if !ids[digest.MessageID(u, "2026-03-02", "kinbridge.example.org")] {
					t.Errorf("no digest for %s: %v", u, ids)
				}
			}
		})
	}
}

// crashingStore fails MarkDigestSent, as a runner that died between the
// SMTP server's acceptance and recording it.
type crashingStore struct{ *store.SQL }

func (crashingStore) MarkDigestSent(context.Context, store.DigestClaim, time.Time) (bool, error) {
	return false, errors.New("injected crash before recording the send")
}

func TestCrashBetweenSendAndRecordResendsSameMessageID(t *testing.T) {
	for name, dsn := range backends {
		t.Run(name, func(t *testing.T) {
			dsn := dsn(t)
			mp := testenv.StartMailpit(t, testenv.MailpitIgnoreDuplicateIDs())
			st := openStore(t, dsn)
			addUser(t, st, user{id: "ana"})
			notify(t, st, day1.Add(9*time.Hour), "New grade", "ana")
			mailer := &countingMailer{Mailer: smtpMailer(t, mp)}
			sendAt := day2.Add(7 * time.Hour)

			crashed := newRunner(t, crashingStore{st}, mailer)
			if _, err := crashed.RunOnce(context.Background(), sendAt); err != nil {
				t.Fatal(err)
			}
			if mailer.sent.Load() != 1 {
				t.Fatalf("the crashing runner sent %d mails", mailer.sent.Load())
			}
			// Another instance, while the dead one's lease holds: nothing.
			other := newRunner(t, openStore(t, dsn), mailer)
			if rep := runOnce(t, other, sendAt.Add(9*time.Minute)); rep.Sent != 0 {
				t.Fatalf("sent within the lease: %+v", rep)
			}
			// After the lease: sent again, with the same Message-ID.
			if rep := runOnce(t, other, sendAt.Add(10*time.Minute)); rep.Sent != 1 {
				t.Fatalf("not re-sent after the lease: %+v", rep)
			}
			if rep := runOnce(t, other, sendAt.Add(20*time.Minute)); rep.Sent != 0 {
				t.Fatalf("sent a third time: %+v", rep)
			}
			if mailer.sent.Load() != 2 {
				t.Fatalf("the SMTP server accepted %d sends, want 2", mailer.sent.Load())
			}
			msgs := mp.WaitMessages(t, 1)
			if len(msgs) != 1 || msgs[0].MessageID != digest.MessageID("ana", "2026-03-02", "kinbridge.example.org") {
				t.Fatalf("mailpit (dropping duplicate Message-IDs) holds %+v, want one digest", msgs)
			}
		})
	}
}

func TestNoMailForAnEmptyDayAndNoBacklog(t *testing.T) {
	mp := testenv.StartMailpit(t)
	st := openStore(t, backends["sqlite"](t))
	addUser(t, st, user{id: "ana"})
	r := newRunner(t, st, smtpMailer(t, mp))
	// Something on day 0 and on day 2, nothing on day 1.
	notify(t, st, day1.Add(-12*time.Hour), "Day 0", "ana")
	notify(t, st, day2.Add(12*time.Hour), "Day 2", "ana")
	// Day 0's digest was due on day 1 at 07:00; the runner was down.
	// On day 2 only day 1 counts, and it was empty.
	for _, now := range []time.Time{day2.Add(7 * time.Hour), day2.Add(23 * time.Hour)} {
		if rep := runOnce(t, r, now); rep.Sent != 0 {
			t.Fatalf("at %v sent %d", now, rep.Sent)
		}
	}
	if rep := runOnce(t, r, day2.Add(31*time.Hour)); rep.Sent != 1 {
		t.Fatalf("day 2's digest: %+v", rep)
	}
	msgs := mp.WaitMessages(t, 1)
	if len(msgs) != 1 || !strings.Contains(msgs[0].MessageID, ".2026-03-03@") {
		t.Fatalf("messages = %+v", msgs)
	}
	if full := mp.Message(t, msgs[0].ID); !strings.Contains(full.Text, "Day 2") || strings.Contains(full.Text, "Day 0") {
		t.Errorf("text = %s", full.Text)
	}
}

func TestTimeZonesAndQuietHours(t *testing.T) {
	mp := testenv.StartMailpit(t)
	st := openStore(t, backends["sqlite"](t))
	addUser(t, st, user{id: "kiri", tz: "Pacific/Auckland"})
	addUser(t, st, user{id: "lou", tz: "America/Los_Angeles"})
	addUser(t, st, user{id: "quiet", quietStart: 22 * 60, quietEnd: 8*60 + 30})
	r := newRunner(t, st, smtpMailer(t, mp))
	// 10:00Z: 23:00 on 2 March in Auckland, 02:00 on 2 March in LA.
	// 12:00Z: 01:00 on 3 March in Auckland, 04:00 on 2 March in LA.
	notify(t, st, time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC), "Late in Auckland", "kiri", "lou", "quiet")
	notify(t, st, time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC), "Past midnight in Auckland", "kiri", "lou")

	steps := []struct {
		now  time.Time
		want []string // users mailed at this step
	}{
		{time.Date(2026, 3, 2, 17, 59, 0, 0, time.UTC), nil},
		{time.Date(2026, 3, 2, 18, 0, 0, 0, time.UTC), []string{"kiri"}}, // 07:00 on 3 March in Auckland
		{time.Date(2026, 3, 3, 8, 29, 0, 0, time.UTC), nil},              // quiet hours until 08:30
		{time.Date(2026, 3, 3, 8, 30, 0, 0, time.UTC), []string{"quiet"}},
		{time.Date(2026, 3, 3, 14, 59, 0, 0, time.UTC), nil},
		{time.Date(2026, 3, 3, 15, 0, 0, 0, time.UTC), []string{"lou"}},  // 07:00 on 3 March in LA
		{time.Date(2026, 3, 3, 18, 0, 0, 0, time.UTC), []string{"kiri"}}, // Auckland's 3 March
	}
	total := 0
	for _, s := range steps {
		if rep := runOnce(t, r, s.now); rep.Sent != len(s.want) {
			t.Fatalf("at %v sent %d, want %v", s.now, rep.Sent, s.want)
		}
		total += len(s.want)
	}
	msgs := mp.WaitMessages(t, total)
	got := map[string]string{} // Message-ID -> text
	for _, m := range msgs {
		got[m.MessageID] = mp.Message(t, m.ID).Text
	}
	want := map[string][]string{ // Message-ID -> titles it lists
		digest.MessageID("kiri", "2026-03-02", "kinbridge.example.org"):  {"Late in Auckland"},
		digest.MessageID("kiri", "2026-03-03", "kinbridge.example.org"):  {"Past midnight in Auckland"},
		digest.MessageID("lou", "2026-03-02", "kinbridge.example.org"):   {"Late in Auckland", "Past midnight in Auckland"},
		digest.MessageID("quiet", "2026-03-02", "kinbridge.example.org"): {"Late in Auckland"},
	}
	if len(got) != len(want) {
		t.Fatalf("Message-IDs %v, want %v", got, want)
	}
	for id, titles := range want {
		text, ok := got[id]
		if !ok {
			t.Errorf("no message %s", id)
			continue
		}
		if strings.Count(text, "\n- ") != len(titles) {
			t.Errorf("%s lists %d items, want %v:\n%s", id, strings.Count(text, "\n- "), titles, text)
		}
		for _, title := range titles {
			if !strings.Contains(text, title) {
				t.Errorf("%s lacks %q", id, title)
			}
		}
	}
}

var (
	headerToken = regexp.MustCompile(`^<` + regexp.QuoteMeta(publicURL) + `/v1/digest:unsubscribe\?token=([A-Za-z0-9_-]{43})>$`)
	linkToken   = regexp.MustCompile(regexp.QuoteMeta(publicURL) + `/settings/unsubscribe#([A-Za-z0-9_-]{43})`)
)

func TestHeadersPartsAndUnsubscribe(t *testing.T) {
	mp := testenv.StartMailpit(t)
	st := openStore(t, backends["sqlite"](t))
	addUser(t, st, user{id: "ana"})
	addUser(t, st, user{id: "bo"})
	r := newRunner(t, st, smtpMailer(t, mp))
	notify(t, st, day1.Add(9*time.Hour), `<script>alert("x")</script> & "Ana's" grade`, "ana", "bo")
	if rep := runOnce(t, r, day2.Add(7*time.Hour)); rep.Sent != 2 {
		t.Fatalf("sent %+v", rep)
	}
	tokens := map[string]string{} // user -> token
	for _, m := range mp.WaitMessages(t, 2) {
		full, h := mp.Message(t, m.ID), mp.Headers(t, m.ID)
		u := strings.TrimSuffix(m.To[0].Address, "@example.test")
		if got := strings.Join(h["List-Unsubscribe-Post"], ","); got != "List-Unsubscribe=One-Click" {
			t.Errorf("List-Unsubscribe-Post = %q", got)
		}
		hm := headerToken.FindStringSubmatch(strings.Join(h["List-Unsubscribe"], ","))
		lm := linkToken.FindStringSubmatch(full.Text)
		if hm == nil || lm == nil || hm[1] != lm[1] || !strings.Contains(full.HTML, lm[0]) {
			t.Fatalf("unsubscribe header %q, text link %v, html %s", h["List-Unsubscribe"], lm, full.HTML)
		}
		if !strings.Contains(full.HTML, "&lt;script&gt;") || strings.Contains(full.HTML, "<script>") {
			t.Errorf("the HTML part does not escape the title: %s", full.HTML)
		}
		if !strings.Contains(full.Text, `<script>alert("x")</script> & "Ana's" grade`) {
			t.Errorf("the text part changed the title: %s", full.Text)
		}
		if !strings.Contains(full.Text, publicURL+"/children/c1") {
			t.Errorf("no link to the child: %s", full.Text)
		}
		if full.Subject != "Kinbridge: 1 update on Monday, 2 March 2026" {
			t.Errorf("subject %q", full.Subject)
		}
		tokens[u] = hm[1]
	}
	// ana uses the header's (one-click) token, bo the visible link's; both
	// are the token of their own mail.
	for _, u := range []string{"ana", "bo"} {
		got, err := r.Unsubscribe(context.Background(), tokens[u])
		if err != nil || got != u {
			t.Fatalf("Unsubscribe(%s's token) = %q, %v", u, got, err)
		}
		if s, _ := st.Settings(context.Background(), u); s.DigestEnabled {
			t.Errorf("%s's digest is still on", u)
		}
	}
	if _, err := r.Unsubscribe(context.Background(), "not-a-token"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown token: %v", err)
	}
	// Later days send nothing.
	notify(t, st, day2.Add(9*time.Hour), "More", "ana", "bo")
	if rep := runOnce(t, r, day2.Add(31*time.Hour)); rep.Sent != 0 {
		t.Fatalf("sent after unsubscribing: %+v", rep)
	}
}
