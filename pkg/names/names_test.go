package names

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// kind is one resource type seen through its Parse and String.
type kind struct {
	pattern string
	parse   func(string) (fmt.Stringer, error)
}

func as[T fmt.Stringer](parse func(string) (T, error)) func(string) (fmt.Stringer, error) {
	return func(s string) (fmt.Stringer, error) { return parse(s) }
}

var kinds = map[string]kind{
	"Child":           {ChildPattern, as(ParseChild)},
	"Guardianship":    {GuardianshipPattern, as(ParseGuardianship)},
	"Assessment":      {AssessmentPattern, as(ParseAssessment)},
	"Milestone":       {MilestonePattern, as(ParseMilestone)},
	"GradingScale":    {GradingScalePattern, as(ParseGradingScale)},
	"ProgressSummary": {ProgressSummaryPattern, as(ParseProgressSummary)},
	"MediaItem":       {MediaItemPattern, as(ParseMediaItem)},
	"UploadSession":   {UploadSessionPattern, as(ParseUploadSession)},
	"User":            {UserPattern, as(ParseUser)},
	"Notification":    {NotificationPattern, as(ParseNotification)},
	"Subscription":    {SubscriptionPattern, as(ParseSubscription)},
}

func TestParseValid(t *testing.T) {
	long63 := strings.Repeat("z", 63)
	long128 := strings.Repeat("é", 64) // 128 bytes
	for _, tt := range []struct {
		kind string
		name string
		want fmt.Stringer
	}{
		{"Child", "children/abc123", Child{"abc123"}},
		{"Child", "children/" + long63, Child{long63}},
		{"Guardianship", "children/abc/guardians/maria@example.org", Guardianship{"abc", "maria@example.org"}},
		{"Guardianship", "children/abc/guardians/" + long128, Guardianship{"abc", long128}},
		{"Assessment", "children/abc/assessments/x9", Assessment{"abc", "x9"}},
		{"Milestone", "children/abc/milestones/m1", Milestone{"abc", "m1"}},
		{"GradingScale", "children/abc/gradingScale", GradingScale{"abc"}},
		{"ProgressSummary", "children/abc/progressSummary", ProgressSummary{"abc"}},
		{"MediaItem", "children/abc/media/def", MediaItem{"abc", "def"}},
		{"UploadSession", "children/abc/uploadSessions/s1", UploadSession{"abc", "s1"}},
		{"User", "users/me", User{Me}},
		{"User", "users/Auth0|12.34", User{"Auth0|12.34"}},
		{"Notification", "users/me/notifications/1", Notification{"me", 1}},
		{"Notification", "users/u/notifications/9223372036854775807", Notification{"u", 9223372036854775807}},
		{"Subscription", "users/u/subscriptions/abc", Subscription{"u", "abc"}},
	} {
		got, err := kinds[tt.kind].parse(tt.name)
		if err != nil {
			t.Errorf("Parse%s(%q): %v", tt.kind, tt.name, err)
			continue
		}
		if got != tt.want {
			t.Errorf("Parse%s(%q) = %#v, want %#v", tt.kind, tt.name, got, tt.want)
		}
		if got.String() != tt.name {
			t.Errorf("Parse%s(%q).String() = %q", tt.kind, tt.name, got.String())
		}
	}
}

func TestParseMalformed(t *testing.T) {
	type bad struct{ name, problem string }
	common := func(good string) []bad {
		return []bad{
			{"", "the name is empty"},
			{good + "/extra", "segments"},
			{good + "/", "segments"},
			{"/" + good, "segments"},
			{"//kinbridge/" + good, "segments"},
			{good[:strings.LastIndex(good, "/")], "segments"},
		}
	}
	cases := map[string][]bad{
		"Child": {
			{"children/", "{child} must be 1 to 63"},
			{"children", "segments"},
			{"child/abc", `segment 1 must be "children"`},
			{"Children/abc", `segment 1 must be "children"`},
			{"children/ABC", "{child} must be 1 to 63 lowercase"},
			{"children/a-b", "{child} must be"},
			{"children/a.b", "{child} must be"},
			{"children/" + strings.Repeat("a", 64), "{child} must be"},
			{"children/a/b", "segments"},
			{"users/abc", `segment 1 must be "children"`},
		},
		"Guardianship": {
			{"children/abc/guardians/", "{user} must be 1 to 128"},
			{"children//guardians/u", "{child} must be"},
			{"children/abc/guardian/u", `segment 3 must be "guardians"`},
			{"children/abc/guardians/u/v", "segments"},
			{"children/abc/guardians/" + strings.Repeat("u", 129), "{user} must be 1 to 128"},
		},
		"Assessment": {
			{"children/abc/assessments/", "{assessment} must be"},
			{"children//assessments/x", "{child} must be"},
			{"children/abc/milestones/x", `segment 3 must be "assessments"`},
			{"children/abc/assessments/X", "{assessment} must be"},
			{"children/abc/assessments/x/y", "segments"},
		},
		"Milestone": {
			{"children/abc/milestones/", "{milestone} must be"},
			{"children/abc/assessments/x", `segment 3 must be "milestones"`},
			{"children/a_b/milestones/x", "{child} must be"},
		},
		"GradingScale": {
			{"children/abc/gradingscale", `segment 3 must be "gradingScale"`},
			{"children//gradingScale", "{child} must be"},
			{"children/abc/gradingScale/x", "segments"},
		},
		"ProgressSummary": {
			{"children/abc/progressSummaries", `segment 3 must be "progressSummary"`},
			{"children//progressSummary", "{child} must be"},
		},
		"MediaItem": {
			{"children/abc/media/", "{media} must be"},
			{"children/abc/uploadSessions/x", `segment 3 must be "media"`},
			{"children/abc/media/x.jpg", "{media} must be"},
		},
		"UploadSession": {
			{"children/abc/uploadSessions/", "{session} must be"},
			{"children/abc/media/x", `segment 3 must be "uploadSessions"`},
			{"children/abc/uploadsessions/x", `segment 3 must be "uploadSessions"`},
		},
		"User": {
			{"users/", "{user} must be 1 to 128"},
			{"user/me", `segment 1 must be "users"`},
			{"users/me/x", "segments"},
			{"users/" + strings.Repeat("u", 129), "{user} must be"},
		},
		"Notification": {
			{"users/me/notifications/", "{notification} must be a sequence"},
			{"users/me/notifications/0", "{notification} must be a sequence"},
			{"users/me/notifications/-3", "{notification} must be a sequence"},
			{"users/me/notifications/+3", "{notification} must be a sequence"},
			{"users/me/notifications/007", "{notification} must be a sequence"},
			{"users/me/notifications/abc", "{notification} must be a sequence"},
			{"users/me/notifications/9223372036854775808", "{notification} must be a sequence"},
			{"users//notifications/1", "{user} must be"},
			{"users/me/subscriptions/1", `segment 3 must be "notifications"`},
		},
		"Subscription": {
			{"users/me/subscriptions/", "{child} must be"},
			{"users/me/subscriptions/children/abc", "segments"},
			{"users/me/subscriptions/ABC", "{child} must be"},
			{"users//subscriptions/abc", "{user} must be"},
			{"users/me/notifications/abc", `segment 3 must be "subscriptions"`},
		},
	}
	good := map[string]string{
		"Child": "children/abc", "Guardianship": "children/abc/guardians/u", "Assessment": "children/abc/assessments/x",
		"Milestone": "children/abc/milestones/x", "GradingScale": "children/abc/gradingScale",
		"ProgressSummary": "children/abc/progressSummary", "MediaItem": "children/abc/media/x",
		"UploadSession": "children/abc/uploadSessions/x", "User": "users/me",
		"Notification": "users/me/notifications/1", "Subscription": "users/me/subscriptions/abc",
	}
	for k, kd := range kinds {
		for _, tt := range append(common(good[k]), cases[k]...) {
			got, err := kd.parse(tt.name)
			var e *Error
			if !errors.As(err, &e) {
				t.Errorf("Parse%s(%q) = %v, %v: want an *Error", k, tt.name, got, err)
				continue
			}
			if e.Pattern != kd.pattern || e.Name != tt.name || !strings.Contains(e.Problem, tt.problem) {
				t.Errorf("Parse%s(%q): %+v, want pattern %s and a problem saying %q", k, tt.name, e, kd.pattern, tt.problem)
			}
			if !strings.Contains(err.Error(), "want "+kd.pattern) || !strings.HasPrefix(e.Description(), "must look like "+kd.pattern) {
				t.Errorf("Parse%s(%q): error %q / %q does not say what was expected", k, tt.name, err, e.Description())
			}
			if !reflect.ValueOf(got).IsZero() {
				t.Errorf("Parse%s(%q) failed but returned %#v, not the zero value", k, tt.name, got)
			}
		}
	}
}

func TestParents(t *testing.T) {
	if p := (Assessment{"c", "a"}).Parent(); p != (Child{"c"}) {
		t.Errorf("Assessment parent %v", p)
	}
	if p := (Notification{"me", 3}).Parent(); p != (User{"me"}) {
		t.Errorf("Notification parent %v", p)
	}
	if s := (Subscription{"u", "c"}); s.Parent() != (User{"u"}) || s.Target() != (Child{"c"}) {
		t.Errorf("Subscription parent %v target %v", s.Parent(), s.Target())
	}
}

// The contracts' patterns, restated independently of checkID.
var (
	idRE   = regexp.MustCompile(`^[a-z0-9]{1,63}$`)
	userRE = regexp.MustCompile(`^[^/]{1,128}$`)
)

// FuzzRoundTrip checks, for every kind, that whatever parses formats back to
// the same string (names are canonical), and that whatever is built from
// the ids of a parse parses back to the same value.
func FuzzRoundTrip(f *testing.F) {
	for _, s := range []string{"abc", "me", "12", "", "a/b", "ABC", "007", "é", "users/me", strings.Repeat("x", 64)} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		var seq int64
		fmt.Sscan(b, &seq)
		id := func(s string) bool { return idRE.MatchString(s) }
		user := func(s string) bool { return userRE.MatchString(s) }
		built := []struct {
			x     fmt.Stringer
			valid bool
		}{
			{Child{a}, id(a)}, {Guardianship{a, b}, id(a) && user(b)}, {Assessment{a, b}, id(a) && id(b)},
			{Milestone{a, b}, id(a) && id(b)}, {GradingScale{a}, id(a)}, {ProgressSummary{a}, id(a)},
			{MediaItem{a, b}, id(a) && id(b)}, {UploadSession{a, b}, id(a) && id(b)}, {User{a}, user(a)},
			{Notification{a, seq}, user(a) && seq > 0}, {Subscription{a, b}, user(a) && id(b)},
		}
		for _, tt := range built {
			k := strings.TrimPrefix(fmt.Sprintf("%T", tt.x), "names.")
			got, err := kinds[k].parse(tt.x.String())
			if (err == nil) != tt.valid {
				t.Errorf("Parse%s(%q): error %v, want valid=%v", k, tt.x.String(), err, tt.valid)
			}
			if err == nil && got != tt.x {
				t.Errorf("Parse%s(%q) = %#v, want %#v", k, tt.x.String(), got, tt.x)
			}
		}
		for k, kd := range kinds {
			for _, s := range []string{a, b, a + "/" + b} {
				if got, err := kd.parse(s); err == nil && got.String() != s {
					t.Errorf("Parse%s(%q).String() = %q", k, s, got.String())
				}
			}
		}
	})
}

func TestNewIDsAreIDs(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := NewID()
		if _, err := ParseAssessment(Assessment{Child: id, ID: id}.String()); err != nil {
			t.Fatalf("NewID() = %q: %v", id, err)
		}
		if seen[id] {
			t.Fatalf("NewID() repeated %q", id)
		}
		seen[id] = true
	}
}
