package notification_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
	"github.com/kinbridge/kinbridge/pkg/errinfo"
	"github.com/kinbridge/kinbridge/pkg/testenv"
	"github.com/kinbridge/kinbridge/services/notification"
	"github.com/kinbridge/kinbridge/services/notification/digest"
	"github.com/kinbridge/kinbridge/services/notification/notificationtest"
)

// mailbox is a Mailer that keeps what it is given.
type mailbox struct {
	mu   sync.Mutex
	sent []*digest.Message
}

func (m *mailbox) Send(_ context.Context, msg *digest.Message) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, msg)
	return nil
}

// last returns the token of the last confirmation link mailed to to.
func (m *mailbox) last(t *testing.T, to string) string {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := len(m.sent) - 1; i >= 0; i-- {
		if m.sent[i].To != to {
			continue
		}
		_, after, ok := strings.Cut(m.sent[i].Text, "https://app.example/settings/confirm#")
		if !ok {
			t.Fatalf("the mail holds no link: %q", m.sent[i].Text)
		}
		return strings.Fields(after)[0]
	}
	t.Fatalf("no mail to %s", to)
	return ""
}

func (m *mailbox) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.sent)
}

func startSettings(t *testing.T, clock *notification.FakeClock, mailer digest.Mailer) *notificationtest.Env {
	return notificationtest.Start(t, notificationtest.Backends[0], func(c *notification.Config) {
		c.Clock, c.Mailer, c.PublicURL = clock, mailer, "https://app.example/"
		c.Heartbeat = time.Hour // no heartbeat in the way
	})
}

func update(ctx context.Context, e *notificationtest.Env, s *notificationv1.UserSettings, paths ...string) (*notificationv1.UserSettings, error) {
	if s.Name == "" {
		s.Name = "users/me/settings"
	}
	return e.Notifications.UpdateUserSettings(ctx, &notificationv1.UpdateUserSettingsRequest{Settings: s, UpdateMask: &fieldmaskpb.FieldMask{Paths: paths}})
}

func TestSettingsDefaultsAndUpdates(t *testing.T) {
	e := startSettings(t, notification.NewFakeClock(time.Now()), &mailbox{})
	ctx := e.As(context.Background(), t, "maria")
	got, err := e.Notifications.GetUserSettings(ctx, &notificationv1.GetUserSettingsRequest{Name: "users/me/settings"})
	if err != nil || got.GetName() != "users/maria/settings" || got.GetTimeZone() != "UTC" || got.GetQuietHours() != nil ||
		got.GetDigestEnabled() || got.GetEmailState() != notificationv1.EmailState_EMAIL_STATE_NONE || got.GetEtag() == "" {
		t.Fatalf("defaults: %v %v", got, err)
	}
	next, err := update(ctx, e, &notificationv1.UserSettings{TimeZone: "Europe/Lisbon", QuietHours: &notificationv1.QuietHours{Start: "22:00", End: "07:00"}},
		"time_zone", "quiet_hours")
	if err != nil || next.GetTimeZone() != "Europe/Lisbon" || next.GetQuietHours().GetStart() != "22:00" || next.GetQuietHours().GetEnd() != "07:00" ||
		next.GetEtag() == got.GetEtag() || next.GetUpdateTime() == nil {
		t.Fatalf("update: %v %v", next, err)
	}
	// Only what the mask names changes.
	if next, err = update(ctx, e, &notificationv1.UserSettings{DigestEnabled: true, TimeZone: "Asia/Tokyo"}, "digest_enabled"); err != nil ||
		!next.GetDigestEnabled() || next.GetTimeZone() != "Europe/Lisbon" || next.GetQuietHours().GetEnd() != "07:00" {
		t.Fatalf("digest only: %v %v", next, err)
	}
	// One end of the quiet hours alone.
	if next, err = update(ctx, e, &notificationv1.UserSettings{QuietHours: &notificationv1.QuietHours{End: "06:30"}}, "quiet_hours.end"); err != nil ||
		next.GetQuietHours().GetStart() != "22:00" || next.GetQuietHours().GetEnd() != "06:30" {
		t.Fatalf("end only: %v %v", next, err)
	}
	// A stale etag is refused; the current one passes.
	if _, err := update(ctx, e, &notificationv1.UserSettings{Etag: got.GetEtag(), TimeZone: "UTC"}, "time_zone"); status.Code(err) != codes.Aborted {
		t.Fatalf("a stale etag: %v, want ABORTED", err)
	}
	if next, err = update(ctx, e, &notificationv1.UserSettings{Etag: next.GetEtag(), QuietHours: nil}, "quiet_hours"); err != nil || next.GetQuietHours() != nil {
		t.Fatalf("quiet hours cleared with the current etag: %v %v", next, err)
	}
}

// Another user's settings are not found, read or written.
func TestSettingsOfOneUserAreNotAnothers(t *testing.T) {
	e := startSettings(t, notification.NewFakeClock(time.Now()), &mailbox{})
	maria, joao := e.As(context.Background(), t, "maria"), e.As(context.Background(), t, "joao")
	if _, err := update(maria, e, &notificationv1.UserSettings{TimeZone: "Europe/Lisbon", Email: "maria@example.com"}, "time_zone", "email"); err != nil {
		t.Fatal(err)
	}
	if got, err := e.Notifications.GetUserSettings(joao, &notificationv1.GetUserSettingsRequest{Name: "users/maria/settings"}); status.Code(err) != codes.NotFound {
		t.Fatalf("joao reads maria's settings: %v %v", got, err)
	}
	if _, err := update(joao, e, &notificationv1.UserSettings{Name: "users/maria/settings", TimeZone: "UTC"}, "time_zone"); status.Code(err) != codes.NotFound {
		t.Fatalf("joao writes maria's settings: %v", err)
	}
	if got, _ := e.Notifications.GetUserSettings(joao, &notificationv1.GetUserSettingsRequest{Name: "users/me/settings"}); got.GetTimeZone() != "UTC" || got.GetEmail() != "" {
		t.Fatalf("joao's own settings show maria's: %v", got)
	}
	if _, err := e.Notifications.GetUserSettings(context.Background(), &notificationv1.GetUserSettingsRequest{Name: "users/maria/settings"}); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("without a token: %v", err)
	}
}

func TestSettingsValidation(t *testing.T) {
	e := startSettings(t, notification.NewFakeClock(time.Now()), &mailbox{})
	ctx := e.As(context.Background(), t, "maria")
	long := strings.Repeat("a", 245) + "@example.com"
	tests := []struct {
		name  string
		in    *notificationv1.UserSettings
		paths []string
		bad   []string // field violations; none: accepted
	}{
		{"a zone", &notificationv1.UserSettings{TimeZone: "America/Sao_Paulo"}, []string{"time_zone"}, nil},
		{"the server's zone", &notificationv1.UserSettings{TimeZone: "Local"}, []string{"time_zone"}, []string{"settings.time_zone"}},
		{"an empty zone", &notificationv1.UserSettings{TimeZone: ""}, []string{"time_zone"}, []string{"settings.time_zone"}},
		{"no such zone", &notificationv1.UserSettings{TimeZone: "Mars/Olympus_Mons"}, []string{"time_zone"}, []string{"settings.time_zone"}},
		{"a path", &notificationv1.UserSettings{TimeZone: "../../etc/passwd"}, []string{"time_zone"}, []string{"settings.time_zone"}},
		// Names some hosts' zoneinfo folders answer, but not the tz
		// database: refused on every host alike.
		{"a doubled slash", &notificationv1.UserSettings{TimeZone: "Europe//Lisbon"}, []string{"time_zone"}, []string{"settings.time_zone"}},
		{"leap-second zoneinfo", &notificationv1.UserSettings{TimeZone: "right/Europe/Lisbon"}, []string{"time_zone"}, []string{"settings.time_zone"}},
		{"posix zoneinfo", &notificationv1.UserSettings{TimeZone: "posix/Asia/Tokyo"}, []string{"time_zone"}, []string{"settings.time_zone"}},
		{"Factory", &notificationv1.UserSettings{TimeZone: "Factory"}, []string{"time_zone"}, []string{"settings.time_zone"}},
		{"a trailing slash", &notificationv1.UserSettings{TimeZone: "Europe/Lisbon/"}, []string{"time_zone"}, []string{"settings.time_zone"}},
		{"start alone", &notificationv1.UserSettings{QuietHours: &notificationv1.QuietHours{Start: "22:00"}}, []string{"quiet_hours"}, []string{"settings.quiet_hours.end"}},
		{"end alone", &notificationv1.UserSettings{QuietHours: &notificationv1.QuietHours{End: "07:00"}}, []string{"quiet_hours"}, []string{"settings.quiet_hours.start"}},
		{"24:00", &notificationv1.UserSettings{QuietHours: &notificationv1.QuietHours{Start: "24:00", End: "07:00"}}, []string{"quiet_hours"}, []string{"settings.quiet_hours.start"}},
		{"one digit", &notificationv1.UserSettings{QuietHours: &notificationv1.QuietHours{Start: "22:00", End: "7:00"}}, []string{"quiet_hours"}, []string{"settings.quiet_hours.end"}},
		{"seconds", &notificationv1.UserSettings{QuietHours: &notificationv1.QuietHours{Start: "22:00:00", End: "07:00"}}, []string{"quiet_hours"}, []string{"settings.quiet_hours.start"}},
		{"no span", &notificationv1.UserSettings{QuietHours: &notificationv1.QuietHours{Start: "07:00", End: "07:00"}}, []string{"quiet_hours"}, []string{"settings.quiet_hours.end"}},
		{"a span over midnight", &notificationv1.UserSettings{QuietHours: &notificationv1.QuietHours{Start: "23:30", End: "00:15"}}, []string{"quiet_hours"}, nil},
		{"a name with the address", &notificationv1.UserSettings{Email: "Maria <maria@example.com>"}, []string{"email"}, []string{"settings.email"}},
		{"not an address", &notificationv1.UserSettings{Email: "maria"}, []string{"email"}, []string{"settings.email"}},
		{"spaces", &notificationv1.UserSettings{Email: " maria@example.com"}, []string{"email"}, []string{"settings.email"}},
		{"too long", &notificationv1.UserSettings{Email: long}, []string{"email"}, []string{"settings.email"}},
		{"an IP literal", &notificationv1.UserSettings{Email: "a@[127.0.0.1]"}, []string{"email"}, []string{"settings.email"}},
		{"an IPv6 literal", &notificationv1.UserSettings{Email: "a@[IPv6:::1]"}, []string{"email"}, []string{"settings.email"}},
		{"a dotted IP", &notificationv1.UserSettings{Email: "a@10.0.0.1"}, []string{"email"}, []string{"settings.email"}},
		{"a single label", &notificationv1.UserSettings{Email: "a@localhost"}, []string{"email"}, []string{"settings.email"}},
		{"a quoted local part", &notificationv1.UserSettings{Email: `"a b"@example.com`}, []string{"email"}, []string{"settings.email"}},
		// Four addresses accepted (a fifth would meet the cap on confirmation mails).
		{"subdomains and a tag", &notificationv1.UserSettings{Email: "ana.maria+kb@mail.example.co.uk"}, []string{"email"}, nil},
		{"international", &notificationv1.UserSettings{Email: "josé@exämple.pt"}, []string{"email"}, nil},
		{"punycode", &notificationv1.UserSettings{Email: "x@xn--exmple-cua.de"}, []string{"email"}, nil},
		{"a hyphen", &notificationv1.UserSettings{Email: "a@b-c.example"}, []string{"email"}, nil},
		{"two at once", &notificationv1.UserSettings{TimeZone: "Local", Email: "x"}, []string{"time_zone", "email"}, []string{"settings.time_zone", "settings.email"}},
		{"a bad zone and one end", &notificationv1.UserSettings{TimeZone: "Local", QuietHours: &notificationv1.QuietHours{Start: "22:00"}},
			[]string{"time_zone", "quiet_hours"}, []string{"settings.time_zone", "settings.quiet_hours.end"}},
		{"an unknown mask path", &notificationv1.UserSettings{}, []string{"colour"}, []string{"update_mask"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := e.Notifications.GetUserSettings(ctx, &notificationv1.GetUserSettingsRequest{Name: "users/me/settings"})
			_, err := update(ctx, e, tt.in, tt.paths...)
			if tt.bad == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if status.Code(err) != codes.InvalidArgument || strings.Join(testenv.FieldViolations(err), ",") != strings.Join(tt.bad, ",") {
				t.Fatalf("%v: violations %v, want INVALID_ARGUMENT on %v", err, testenv.FieldViolations(err), tt.bad)
			}
			if after, _ := e.Notifications.GetUserSettings(ctx, &notificationv1.GetUserSettingsRequest{Name: "users/me/settings"}); after.GetEtag() != before.GetEtag() {
				t.Fatalf("a refused update changed the settings: %v -> %v", before, after)
			}
		})
	}
}

func TestEmailConfirmation(t *testing.T) {
	clock := notification.NewFakeClock(time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC))
	mails := &mailbox{}
	e := startSettings(t, clock, mails)
	ctx := e.As(context.Background(), t, "maria")
	anonymous := context.Background() // ConfirmEmail needs no sign-in
	got, err := update(ctx, e, &notificationv1.UserSettings{Email: "maria@example.com"}, "email")
	if err != nil || got.GetEmail() != "maria@example.com" || got.GetEmailState() != notificationv1.EmailState_EMAIL_STATE_PENDING {
		t.Fatalf("set: %v %v", got, err)
	}
	token := mails.last(t, "maria@example.com")
	confirm := func(token string) (*notificationv1.ConfirmEmailResponse, error) {
		return e.Notifications.ConfirmEmail(anonymous, &notificationv1.ConfirmEmailRequest{Token: token})
	}
	if _, err := confirm("not-a-token"); status.Code(err) != codes.NotFound {
		t.Fatalf("an unknown token: %v, want NOT_FOUND", err)
	}
	resp, err := confirm(token)
	if err != nil || resp.GetEmail() != "maria@example.com" || resp.GetEmailState() != notificationv1.EmailState_EMAIL_STATE_CONFIRMED {
		t.Fatalf("confirm: %v %v", resp, err)
	}
	if _, err := confirm(token); status.Code(err) != codes.FailedPrecondition ||
		errinfo.NotificationReason(err) != notificationv1.ErrorReason_ERROR_REASON_EMAIL_LINK_USED {
		t.Fatalf("used twice: %v, want FAILED_PRECONDITION EMAIL_LINK_USED", err)
	}
	if got, _ := e.Notifications.GetUserSettings(ctx, &notificationv1.GetUserSettingsRequest{Name: "users/me/settings"}); got.GetEmailState() != notificationv1.EmailState_EMAIL_STATE_CONFIRMED {
		t.Fatalf("after confirming: %v", got)
	}
	// Saving the settings with the same address mails nothing.
	sent := mails.count()
	if _, err := update(ctx, e, &notificationv1.UserSettings{Email: "maria@example.com", TimeZone: "UTC"}); err != nil || mails.count() != sent {
		t.Fatalf("saved as read: %v, %d mails, want %d", err, mails.count(), sent)
	}
	// A new address: pending again; its link expires after 24 hours.
	if got, err = update(ctx, e, &notificationv1.UserSettings{Email: "maria@home.example"}, "email"); err != nil || got.GetEmailState() != notificationv1.EmailState_EMAIL_STATE_PENDING {
		t.Fatalf("a new address: %v %v", got, err)
	}
	// The form saved whole (the pending address with other fields) mails nothing.
	sent = mails.count()
	if _, err := update(ctx, e, &notificationv1.UserSettings{Email: "maria@home.example", TimeZone: "Europe/Lisbon"}, "email", "time_zone"); err != nil || mails.count() != sent {
		t.Fatalf("saved with the pending address: %v, %d mails, want %d", err, mails.count(), sent)
	}
	clock.Set(clock.Now().Add(24 * time.Hour))
	if _, err := confirm(mails.last(t, "maria@home.example")); status.Code(err) != codes.FailedPrecondition ||
		errinfo.NotificationReason(err) != notificationv1.ErrorReason_ERROR_REASON_EMAIL_LINK_EXPIRED {
		t.Fatalf("expired: %v, want FAILED_PRECONDITION EMAIL_LINK_EXPIRED", err)
	}
	// Asking again (the mask names email) sends a new link, which works;
	// the old one is gone.
	old := mails.last(t, "maria@home.example")
	if _, err := update(ctx, e, &notificationv1.UserSettings{Email: "maria@home.example"}, "email"); err != nil {
		t.Fatal(err)
	}
	if _, err := confirm(old); status.Code(err) != codes.NotFound {
		t.Fatalf("the replaced link: %v, want NOT_FOUND", err)
	}
	if resp, err := confirm(mails.last(t, "maria@home.example")); err != nil || resp.GetEmailState() != notificationv1.EmailState_EMAIL_STATE_CONFIRMED {
		t.Fatalf("the new link: %v %v", resp, err)
	}
}

func TestEmailRefusedWithoutMail(t *testing.T) {
	e := notificationtest.Start(t, notificationtest.Backends[0], nil) // no Mailer: no SMTP
	ctx := e.As(context.Background(), t, "maria")
	_, err := update(ctx, e, &notificationv1.UserSettings{Email: "maria@example.com", TimeZone: "Europe/Lisbon"}, "email", "time_zone")
	if status.Code(err) != codes.FailedPrecondition || errinfo.NotificationReason(err) != notificationv1.ErrorReason_ERROR_REASON_EMAIL_NOT_CONFIGURED ||
		!strings.Contains(err.Error(), "e-mail is not configured on this server") {
		t.Fatalf("%v, want FAILED_PRECONDITION EMAIL_NOT_CONFIGURED", err)
	}
	if got, _ := e.Notifications.GetUserSettings(ctx, &notificationv1.GetUserSettingsRequest{Name: "users/me/settings"}); got.GetEmail() != "" || got.GetTimeZone() != "UTC" {
		t.Fatalf("a refused update was stored: %v", got)
	}
	// The rest of the settings work without mail.
	if _, err := update(ctx, e, &notificationv1.UserSettings{TimeZone: "Europe/Lisbon"}, "time_zone"); err != nil {
		t.Fatal(err)
	}
}

// TestConfirmationMailsAreBounded: a user cannot have Kinbridge mail an
// address (a stranger's) without end. Before, setting it, clearing it and
// setting it again, or asking for the link again, mailed it every time.
func TestConfirmationMailsAreBounded(t *testing.T) {
	start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	clock := notification.NewFakeClock(start)
	mails := &mailbox{}
	e := startSettings(t, clock, mails)
	ctx := e.As(context.Background(), t, "mallory")
	for i := range 10 {
		_, err := update(ctx, e, &notificationv1.UserSettings{Email: "victim@example.com"}, "email")
		if i < 5 && err != nil {
			t.Fatalf("link %d: %v", i+1, err)
		}
		if i >= 5 && status.Code(err) != codes.ResourceExhausted {
			t.Fatalf("link %d: %v, want RESOURCE_EXHAUSTED", i+1, err)
		}
		if _, err := update(ctx, e, &notificationv1.UserSettings{Email: ""}, "email"); err != nil {
			t.Fatal(err)
		}
	}
	if n := mails.count(); n != 5 {
		t.Fatalf("mails sent = %d, want 5", n)
	}
	// Another user is not held back, and an hour later mallory may again.
	if _, err := update(e.As(context.Background(), t, "maria"), e, &notificationv1.UserSettings{Email: "maria@example.com"}, "email"); err != nil {
		t.Fatal(err)
	}
	clock.Set(start.Add(time.Hour))
	if _, err := update(ctx, e, &notificationv1.UserSettings{Email: "me@example.com"}, "email"); err != nil {
		t.Fatalf("an hour later: %v", err)
	}
}
