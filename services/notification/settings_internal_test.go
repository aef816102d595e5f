package notification

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/types/known/fieldmaskpb"

	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
	"github.com/kinbridge/kinbridge/pkg/auth"
)

// The sign-in provider's verified address (the Principal's, from the ID
// token) is recorded and shown as FROM_IDENTITY while the user set none.
func TestIdentityEmail(t *testing.T) {
	ctx := context.Background()
	svc, err := New(ctx, Config{DSN: "sqlite:" + filepath.Join(t.TempDir(), "n.db"), Progress: fakeProgress{roles: map[string]map[string]progressv1.Role{}},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}) // no Mailer: no SMTP
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	s := svc.server
	as := func(email string, verified bool) context.Context {
		return auth.NewContext(ctx, auth.Principal{Subject: "maria", Issuer: "https://idp.example", Email: email, EmailVerified: verified})
	}
	get := func(ctx context.Context) *notificationv1.UserSettings {
		t.Helper()
		got, err := s.GetUserSettings(ctx, &notificationv1.GetUserSettingsRequest{Name: "users/me/settings"})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := get(as("maria@idp.example", true)); got.GetEmail() != "maria@idp.example" || got.GetEmailState() != notificationv1.EmailState_EMAIL_STATE_FROM_IDENTITY {
		t.Fatalf("with a verified claim: %v", got)
	}
	// A built-in token (no claim) changes nothing; the digest's store sees it.
	if got := get(as("", false)); got.GetEmailState() != notificationv1.EmailState_EMAIL_STATE_FROM_IDENTITY {
		t.Fatalf("without a claim: %v", got)
	}
	if st, _ := s.store.Settings(ctx, "maria"); st.Address() != "maria@idp.example" {
		t.Fatalf("stored: %+v", st)
	}
	// A count of unread notifications (what the app asks on every page) records it too.
	if _, err := s.CountUnreadNotifications(as("maria@new.example", true), &notificationv1.CountUnreadNotificationsRequest{Parent: "users/me"}); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.store.Settings(ctx, "maria"); st.IdentityEmail != "maria@new.example" {
		t.Fatalf("after a call with a new address: %+v", st)
	}
	// An unverified address is not vouched for: it is forgotten.
	if got := get(as("maria@idp.example", false)); got.GetEmailState() != notificationv1.EmailState_EMAIL_STATE_NONE || got.GetEmail() != "" {
		t.Fatalf("with an unverified claim: %v", got)
	}
	// Setting the provider's own address needs no link (and no SMTP).
	ctx = as("maria@idp.example", true)
	got, err := s.UpdateUserSettings(ctx, &notificationv1.UpdateUserSettingsRequest{Settings: &notificationv1.UserSettings{Name: "users/me/settings", Email: "maria@idp.example", DigestEnabled: true},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"email", "digest_enabled"}}})
	if err != nil || got.GetEmailState() != notificationv1.EmailState_EMAIL_STATE_FROM_IDENTITY {
		t.Fatalf("the provider's address: %v %v", got, err)
	}
	// Another address of her own takes over from it (here refused: no SMTP).
	if _, err := s.UpdateUserSettings(ctx, &notificationv1.UpdateUserSettingsRequest{Settings: &notificationv1.UserSettings{Name: "users/me/settings", Email: "maria@home.example"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"email"}}}); err == nil {
		t.Fatal("an address of her own without SMTP was accepted")
	}
}
