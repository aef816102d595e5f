package notification

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"path"
	"regexp"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
	"github.com/kinbridge/kinbridge/pkg/auth"
	"github.com/kinbridge/kinbridge/pkg/errinfo"
	"github.com/kinbridge/kinbridge/pkg/etag"
	"github.com/kinbridge/kinbridge/pkg/validate"
	"github.com/kinbridge/kinbridge/services/notification/store"
)

// settingsOwner resolves `users/{user}/settings` (or `users/me/settings`)
// to the caller; anyone else's settings answer NOT_FOUND.
func settingsOwner(ctx context.Context, field, name string) (string, error) {
	user, ok := strings.CutSuffix(name, "/settings")
	if !ok {
		return "", validate.InvalidArgument(validate.Field{Path: field, Description: "must be users/{user}/settings or users/me/settings"})
	}
	return owner(ctx, field, user)
}

func settingsToProto(st store.Settings) *notificationv1.UserSettings {
	out := &notificationv1.UserSettings{
		Name:          "users/" + st.User + "/settings",
		TimeZone:      st.TimeZone,
		DigestEnabled: st.DigestEnabled,
		Email:         st.Email,
		EmailState:    notificationv1.EmailState(st.EmailState),
		Etag:          etag.Of(st.Version + 1), // the defaults (version 0) have an etag too
	}
	if st.HasQuietHours() {
		out.QuietHours = &notificationv1.QuietHours{Start: clockText(st.QuietStart), End: clockText(st.QuietEnd)}
	}
	if st.Version > 0 {
		out.UpdateTime = timestamppb.New(st.UpdateTime)
	}
	return out
}

// noteIdentity records the address the caller's sign-in provider vouches
// for (pkg/auth's Principal, from the ID token's email and
// email_verified), so the digest can use it while the user is away. A
// token without an email claim (a built-in one) changes nothing; one with
// an unverified address forgets the one recorded. What was recorded is
// remembered in process, so most calls write nothing.
func (s *server) noteIdentity(ctx context.Context, user string) {
	p, ok := auth.FromContext(ctx)
	if !ok || p.Subject != user || p.Email == "" {
		return
	}
	email := p.VerifiedEmail()
	s.identitiesMu.Lock()
	known, seen := s.identities[user]
	s.identitiesMu.Unlock()
	if seen && known == email {
		return
	}
	if err := s.store.RecordIdentityEmail(ctx, user, email); err != nil {
		s.logger.WarnContext(ctx, "recording the sign-in provider's address failed", slog.Any("error", err))
		return
	}
	s.identitiesMu.Lock()
	if len(s.identities) >= 100_000 { // a bound, not a cache policy: start over
		clear(s.identities)
	}
	s.identities[user] = email
	s.identitiesMu.Unlock()
}

// GetUserSettings returns the caller's settings.
func (s *server) GetUserSettings(ctx context.Context, req *notificationv1.GetUserSettingsRequest) (*notificationv1.UserSettings, error) {
	user, err := settingsOwner(ctx, "name", req.GetName())
	if err != nil {
		return nil, err
	}
	s.noteIdentity(ctx, user)
	st, err := s.store.Settings(ctx, user)
	if err != nil {
		return nil, internal(ctx, s.logger, "get settings", err)
	}
	return settingsToProto(st), nil
}

// settingsFields are the fields UpdateUserSettings changes.
var settingsFields = []string{"time_zone", "quiet_hours.start", "quiet_hours.end", "digest_enabled", "email"}

// settingsMask returns the fields to change, and whether the mask named
// email alone: the way to ask for a new link for a pending address (a form
// saved whole, as the gateway turns a PATCH body into a mask, names more).
func settingsMask(mask *fieldmaskpb.FieldMask) (map[string]bool, bool, error) {
	out := map[string]bool{}
	if len(mask.GetPaths()) == 0 || (len(mask.GetPaths()) == 1 && mask.GetPaths()[0] == "*") {
		for _, f := range settingsFields {
			out[f] = true
		}
		return out, false, nil
	}
	for _, p := range mask.GetPaths() {
		switch p {
		case "time_zone", "timeZone":
			out["time_zone"] = true
		case "quiet_hours", "quietHours":
			out["quiet_hours.start"], out["quiet_hours.end"] = true, true
		case "quiet_hours.start", "quietHours.start":
			out["quiet_hours.start"] = true
		case "quiet_hours.end", "quietHours.end":
			out["quiet_hours.end"] = true
		case "digest_enabled", "digestEnabled":
			out["digest_enabled"] = true
		case "email":
			out["email"] = true
		case "name", "email_state", "emailState", "update_time", "updateTime", "etag":
		default:
			return nil, false, validate.InvalidArgument(validate.Field{Path: "update_mask", Description: "names a field that cannot be updated: " + p})
		}
	}
	return out, len(out) == 1 && out["email"], nil
}

// clockPattern is "HH:MM", 00:00 to 23:59.
var clockPattern = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)

func clockText(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }

// parseClock returns the minutes after midnight of "HH:MM", -1 for "".
func parseClock(field, v string) (int, *validate.Field) {
	if v == "" {
		return store.NoQuietHours, nil
	}
	if !clockPattern.MatchString(v) {
		return 0, &validate.Field{Path: field, Description: "must be a local time HH:MM, 00:00 to 23:59"}
	}
	return int(v[0]-'0')*600 + int(v[1]-'0')*60 + int(v[3]-'0')*10 + int(v[4]-'0'), nil
}

// checkTimeZone refuses what is not an IANA time zone name.
func checkTimeZone(tz string) *validate.Field {
	f := func(d string) *validate.Field { return &validate.Field{Path: "settings.time_zone", Description: d} }
	switch {
	case tz == "":
		return f("is required: an IANA time zone such as Europe/Lisbon")
	case tz == "Local":
		return f("must name a time zone such as Europe/Lisbon: Local would be the server's own")
	case path.Clean(tz) != tz || strings.HasPrefix(tz, "right/") || strings.HasPrefix(tz, "posix/") || tz == "Factory":
		// Names a host's zoneinfo folder answers but the tz database
		// does not list (the embedded copy, which a container without
		// zoneinfo reads, lacks them): one set of names on every host.
		return f("is not an IANA time zone; use a name such as Europe/Lisbon or America/Sao_Paulo")
	}
	if _, err := time.LoadLocation(tz); err != nil {
		return f("is not an IANA time zone; use a name such as Europe/Lisbon or America/Sao_Paulo")
	}
	return nil
}

// checkEmail refuses what is not a bare address ("" clears it).
func checkEmail(e string) *validate.Field {
	if e == "" {
		return nil
	}
	if len(e) > 254 {
		return &validate.Field{Path: "settings.email", Description: "must be at most 254 characters"}
	}
	a, err := mail.ParseAddress(e)
	if err != nil || a.Name != "" || a.Address != e {
		return &validate.Field{Path: "settings.email", Description: "must be a bare e-mail address such as ana@example.com (no name, no angle brackets)"}
	}
	// RFC 5322 allows more than a mail should go to: a quoted local part,
	// and a domain that is an address ("a@[127.0.0.1]") or a single label
	// ("a@localhost"), which would aim the digest at hosts of the server's
	// own network.
	at := strings.LastIndexByte(e, '@')
	if strings.HasPrefix(e, `"`) || !mailDomain.MatchString(e[at+1:]) {
		return &validate.Field{Path: "settings.email", Description: "must be an address at a domain name such as example.com (no quoted names, no IP addresses, no single-label hosts)"}
	}
	return nil
}

// mailDomain is a domain name of two labels or more, whose last is not a
// number.
var mailDomain = regexp.MustCompile(`^([\p{L}\p{N}]([\p{L}\p{N}-]*[\p{L}\p{N}])?\.)+[\p{L}]([\p{L}\p{N}-]*[\p{L}\p{N}])?$`)

// applySettings returns cur with the fields of in that paths names, or
// the field violations of in.
func applySettings(cur store.Settings, in *notificationv1.UserSettings, paths map[string]bool) (store.Settings, error) {
	next := cur
	var bad []validate.Field
	if paths["time_zone"] {
		if v := checkTimeZone(in.GetTimeZone()); v != nil {
			bad = append(bad, *v)
		}
		next.TimeZone = in.GetTimeZone()
	}
	clocksBad := false
	if paths["quiet_hours.start"] {
		m, v := parseClock("settings.quiet_hours.start", in.GetQuietHours().GetStart())
		if v != nil {
			bad, clocksBad = append(bad, *v), true
		}
		next.QuietStart = m
	}
	if paths["quiet_hours.end"] {
		m, v := parseClock("settings.quiet_hours.end", in.GetQuietHours().GetEnd())
		if v != nil {
			bad, clocksBad = append(bad, *v), true
		}
		next.QuietEnd = m
	}
	if !clocksBad {
		switch {
		case next.QuietStart < 0 && next.QuietEnd >= 0:
			bad = append(bad, validate.Field{Path: "settings.quiet_hours.start", Description: "is required with quiet_hours.end: set both or neither"})
		case next.QuietStart >= 0 && next.QuietEnd < 0:
			bad = append(bad, validate.Field{Path: "settings.quiet_hours.end", Description: "is required with quiet_hours.start: set both or neither"})
		case next.QuietStart >= 0 && next.QuietStart == next.QuietEnd:
			bad = append(bad, validate.Field{Path: "settings.quiet_hours.end", Description: "must differ from quiet_hours.start"})
		}
	}
	if paths["digest_enabled"] {
		next.DigestEnabled = in.GetDigestEnabled()
	}
	if paths["email"] {
		if v := checkEmail(in.GetEmail()); v != nil {
			bad = append(bad, *v)
		}
	}
	if len(bad) > 0 {
		return cur, validate.InvalidArgument(bad...)
	}
	return next, nil
}

// emailChange sets next's address to e, and says whether it needs a
// confirmation link: an address the user already has stays as it is
// (resend: a mask of email alone asks for a new link for a pending one);
// the sign-in provider's own address is confirmed by it.
func emailChange(cur store.Settings, next *store.Settings, e string, resend bool) (needsLink bool) {
	switch {
	case e == "":
		next.Email, next.EmailState = "", store.EmailNone
	case e == cur.Email && cur.EmailState == store.EmailPending:
		return resend
	case e == cur.Email: // confirmed, or the provider's (which stays so)
	case e == cur.IdentityEmail:
		next.Email, next.EmailState = e, store.EmailConfirmed
	default:
		next.Email, next.EmailState = e, store.EmailPending
		return true
	}
	return false
}

// UpdateUserSettings changes the caller's settings named in update_mask.
func (s *server) UpdateUserSettings(ctx context.Context, req *notificationv1.UpdateUserSettingsRequest) (*notificationv1.UserSettings, error) {
	in := req.GetSettings()
	user, err := settingsOwner(ctx, "settings.name", in.GetName())
	if err != nil {
		return nil, err
	}
	paths, resend, err := settingsMask(req.GetUpdateMask())
	if err != nil {
		return nil, err
	}
	want, err := etag.Revision("settings.etag", in.GetEtag())
	if err != nil {
		return nil, err
	}
	s.noteIdentity(ctx, user)
	for attempt := 0; ; attempt++ {
		cur, err := s.store.Settings(ctx, user)
		if err != nil {
			return nil, internal(ctx, s.logger, "get settings", err)
		}
		if want != 0 && want != cur.Version+1 {
			return nil, stale(in.GetName())
		}
		next, err := applySettings(cur, in, paths)
		if err != nil {
			return nil, err
		}
		var link *store.EmailLink
		if paths["email"] && emailChange(cur, &next, in.GetEmail(), resend) {
			if !s.mailConfigured() {
				return nil, notConfigured()
			}
			now := s.clock.Now()
			link = &store.EmailLink{Token: newLinkToken(), Expire: now.Add(emailLinkTTL), Sent: now, Budget: maxLinksPerWindow, Window: linkWindow}
		}
		saved, err := s.store.UpdateSettings(ctx, next, cur.Version, link)
		if errors.Is(err, store.ErrLinkBudget) {
			return nil, status.Errorf(codes.ResourceExhausted,
				"at most %d confirmation mails an hour may be sent for you: wait before asking for another", maxLinksPerWindow)
		}
		if errors.Is(err, store.ErrConflict) {
			if want != 0 || attempt >= 3 {
				return nil, stale(in.GetName())
			}
			continue // changed between our read and write: read again
		}
		if err != nil {
			return nil, internal(ctx, s.logger, "update settings", err)
		}
		if saved.TimeZone != cur.TimeZone || saved.QuietStart != cur.QuietStart || saved.QuietEnd != cur.QuietEnd {
			s.signalSettings(ctx, user)
		}
		if link != nil {
			if err := s.mailer.Send(ctx, s.confirmationMail(saved.Email, link.Token)); err != nil {
				s.logger.WarnContext(ctx, "sending a confirmation link failed", slog.Any("error", err))
				return nil, status.Error(codes.Unavailable, "the address is saved, but the mail with its confirmation link could not be sent; set the address again (update_mask email) to send another")
			}
		}
		return settingsToProto(saved), nil
	}
}

// stale is the refusal of a write whose etag is no longer current.
func stale(name string) error {
	return status.Errorf(codes.Aborted, "%s changed since it was read: read it again and retry", name)
}

// ConfirmEmail confirms an address with the token of its mailed link.
// The method is public (pkg/auth's publicMethods): the token is the
// credential.
func (s *server) ConfirmEmail(ctx context.Context, req *notificationv1.ConfirmEmailRequest) (*notificationv1.ConfirmEmailResponse, error) {
	if req.GetToken() == "" {
		return nil, validate.InvalidArgument(validate.Field{Path: "token", Description: "is required"})
	}
	st, err := s.store.ConfirmEmail(ctx, req.GetToken(), s.clock.Now())
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, status.Error(codes.NotFound, "this confirmation link is not known: it may be mistyped, or the address was changed since it was sent")
	case errors.Is(err, store.ErrLinkUsed):
		return nil, errinfo.Notification(codes.FailedPrecondition, notificationv1.ErrorReason_ERROR_REASON_EMAIL_LINK_USED,
			"this confirmation link was used already", nil)
	case errors.Is(err, store.ErrLinkExpired):
		return nil, errinfo.Notification(codes.FailedPrecondition, notificationv1.ErrorReason_ERROR_REASON_EMAIL_LINK_EXPIRED,
			"this confirmation link expired (links last 24 hours): set the address again in your settings for a new one", nil)
	case err != nil:
		return nil, internal(ctx, s.logger, "confirm email", err)
	}
	return &notificationv1.ConfirmEmailResponse{Email: st.Email, EmailState: notificationv1.EmailState(st.EmailState)}, nil
}
