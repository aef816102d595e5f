// Package names is the one parser and formatter of Kinbridge's resource
// names (AIP-122): `children/{child}/assessments/{assessment}` and the rest.
// Services, the gateway and the Go SDK all use it, so a name means the same
// thing everywhere and a malformed one is refused with the same words.
//
// Each resource has a value type whose String is its canonical name and a
// Parse function that accepts exactly the canonical names: what String
// gives, nothing looser. The id charsets are the contracts' (the
// protovalidate patterns in proto/kinbridge):
//
//   - child and record ids ({child}, {assessment}, {milestone}, {media},
//     {session}, {invitation}): 1 to 63 lowercase ASCII letters or digits;
//   - user ids ({user}): 1 to 128 bytes, any but '/' ("me" names the caller);
//   - notification ids: the inbox sequence, a decimal integer from 1 without
//     leading zeros or sign.
//
// It is hand-written rather than built on go.einride.tech/aip/resourcename:
// that scanner also accepts "/children/x" and full names
// ("//host/children/x"), which are not names here, checks no charset, and
// would bring its own dependencies into every service and SDK user, for
// what is a split on '/'.
package names

import (
	"crypto/rand"
	"fmt"
	"strconv"
	"strings"
)

// NewID returns a new random id for a child or a record: 26 lowercase
// base32 characters (128 bits), within every id charset above, and enough
// randomness that ids can be neither guessed nor enumerated.
func NewID() string { return strings.ToLower(rand.Text()) }

// Me is the user id that stands for the caller in `users/{user}` names.
const Me = "me"

// Error says why a string is not a resource name of the kind asked for.
type Error struct {
	Name    string // the string that did not parse
	Pattern string // what the name must look like: children/{child}/assessments/{assessment}
	Problem string // what is wrong, without echoing the name
}

func (e *Error) Error() string {
	return fmt.Sprintf("%q is not a resource name: want %s (%s)", e.Name, e.Pattern, e.Problem)
}

// Description is the error without the offending input, as a field
// violation describes it: "must look like children/{child} ({child} ...)".
func (e *Error) Description() string {
	return "must look like " + e.Pattern + " (" + e.Problem + ")"
}

// Child is `children/{child}`.
type Child struct{ ID string }

// Guardianship is `children/{child}/guardians/{user}`: a user's access to a child.
type Guardianship struct{ Child, User string }

// Assessment is `children/{child}/assessments/{assessment}`.
type Assessment struct{ Child, ID string }

// Invitation is `children/{child}/invitations/{invitation}`.
type Invitation struct{ Child, ID string }

// Milestone is `children/{child}/milestones/{milestone}`.
type Milestone struct{ Child, ID string }

// GradingScale is the singleton `children/{child}/gradingScale`.
type GradingScale struct{ Child string }

// ProgressSummary is the singleton `children/{child}/progressSummary`.
type ProgressSummary struct{ Child string }

// MediaItem is `children/{child}/media/{media}`.
type MediaItem struct{ Child, ID string }

// UploadSession is `children/{child}/uploadSessions/{session}`.
type UploadSession struct{ Child, ID string }

// User is `users/{user}`, an inbox; `users/me` is the caller's.
type User struct{ ID string }

// Notification is `users/{user}/notifications/{notification}`, where the id
// is the notification's sequence in that inbox.
type Notification struct {
	User     string
	Sequence int64
}

// Subscription is `users/{user}/subscriptions/{child}`: what a user hears
// about a child. Its id is the child's id.
type Subscription struct{ User, Child string }

// The patterns, as the protos document them.
const (
	ChildPattern           = "children/{child}"
	GuardianshipPattern    = "children/{child}/guardians/{user}"
	AssessmentPattern      = "children/{child}/assessments/{assessment}"
	MilestonePattern       = "children/{child}/milestones/{milestone}"
	InvitationPattern      = "children/{child}/invitations/{invitation}"
	GradingScalePattern    = "children/{child}/gradingScale"
	ProgressSummaryPattern = "children/{child}/progressSummary"
	MediaItemPattern       = "children/{child}/media/{media}"
	UploadSessionPattern   = "children/{child}/uploadSessions/{session}"
	UserPattern            = "users/{user}"
	NotificationPattern    = "users/{user}/notifications/{notification}"
	SubscriptionPattern    = "users/{user}/subscriptions/{child}"
)

func (n Child) String() string { return "children/" + n.ID }
func (n Guardianship) String() string {
	return "children/" + n.Child + "/guardians/" + n.User
}
func (n Assessment) String() string { return "children/" + n.Child + "/assessments/" + n.ID }
func (n Milestone) String() string  { return "children/" + n.Child + "/milestones/" + n.ID }
func (n Invitation) String() string { return "children/" + n.Child + "/invitations/" + n.ID }
func (n GradingScale) String() string {
	return "children/" + n.Child + "/gradingScale"
}
func (n ProgressSummary) String() string {
	return "children/" + n.Child + "/progressSummary"
}
func (n MediaItem) String() string     { return "children/" + n.Child + "/media/" + n.ID }
func (n UploadSession) String() string { return "children/" + n.Child + "/uploadSessions/" + n.ID }
func (n User) String() string          { return "users/" + n.ID }
func (n Notification) String() string {
	return "users/" + n.User + "/notifications/" + strconv.FormatInt(n.Sequence, 10)
}
func (n Subscription) String() string { return "users/" + n.User + "/subscriptions/" + n.Child }

// Parent is the child the guardianship gives access to.
func (n Guardianship) Parent() Child { return Child{n.Child} }

// Parent is the child assessed.
func (n Assessment) Parent() Child { return Child{n.Child} }

// Parent is the child who reached the milestone.
func (n Milestone) Parent() Child { return Child{n.Child} }

// Parent is the child whose grades the scale converts.
func (n GradingScale) Parent() Child { return Child{n.Child} }

// Parent is the child summarised.
func (n ProgressSummary) Parent() Child { return Child{n.Child} }

// Parent is the child the item belongs to.
func (n MediaItem) Parent() Child { return Child{n.Child} }

// Parent is the child the upload is for.
func (n UploadSession) Parent() Child { return Child{n.Child} }

// Parent is the inbox holding the notification.
func (n Notification) Parent() User { return User{n.User} }

// Parent is the subscribing user.
func (n Subscription) Parent() User { return User{n.User} }

// Target is the child subscribed to.
func (n Subscription) Target() Child { return Child{n.Child} }

// ParseChild parses `children/{child}`.
func ParseChild(name string) (Child, error) {
	var n Child
	return n, scan(name, ChildPattern, &n.ID)
}

// ParseGuardianship parses `children/{child}/guardians/{user}`.
func ParseGuardianship(name string) (Guardianship, error) {
	var n Guardianship
	return n, scan(name, GuardianshipPattern, &n.Child, &n.User)
}

// ParseAssessment parses `children/{child}/assessments/{assessment}`.
func ParseAssessment(name string) (Assessment, error) {
	var n Assessment
	return n, scan(name, AssessmentPattern, &n.Child, &n.ID)
}

// ParseMilestone parses `children/{child}/milestones/{milestone}`.
func ParseMilestone(name string) (Milestone, error) {
	var n Milestone
	return n, scan(name, MilestonePattern, &n.Child, &n.ID)
}

// ParseInvitation parses `children/{child}/invitations/{invitation}`.
func ParseInvitation(name string) (Invitation, error) {
	var n Invitation
	return n, scan(name, InvitationPattern, &n.Child, &n.ID)
}

// ParseGradingScale parses `children/{child}/gradingScale`.
func ParseGradingScale(name string) (GradingScale, error) {
	var n GradingScale
	return n, scan(name, GradingScalePattern, &n.Child)
}

// ParseProgressSummary parses `children/{child}/progressSummary`.
func ParseProgressSummary(name string) (ProgressSummary, error) {
	var n ProgressSummary
	return n, scan(name, ProgressSummaryPattern, &n.Child)
}

// ParseMediaItem parses `children/{child}/media/{media}`.
func ParseMediaItem(name string) (MediaItem, error) {
	var n MediaItem
	return n, scan(name, MediaItemPattern, &n.Child, &n.ID)
}

// ParseUploadSession parses `children/{child}/uploadSessions/{session}`.
func ParseUploadSession(name string) (UploadSession, error) {
	var n UploadSession
	return n, scan(name, UploadSessionPattern, &n.Child, &n.ID)
}

// ParseUser parses `users/{user}`, `users/me` included.
func ParseUser(name string) (User, error) {
	var n User
	return n, scan(name, UserPattern, &n.ID)
}

// ParseNotification parses `users/{user}/notifications/{notification}`.
func ParseNotification(name string) (Notification, error) {
	var n Notification
	var seq string
	if err := scan(name, NotificationPattern, &n.User, &seq); err != nil {
		return Notification{}, err
	}
	n.Sequence, _ = strconv.ParseInt(seq, 10, 64) // scan checked it
	return n, nil
}

// ParseSubscription parses `users/{user}/subscriptions/{child}`.
func ParseSubscription(name string) (Subscription, error) {
	var n Subscription
	return n, scan(name, SubscriptionPattern, &n.User, &n.Child)
}

// scan matches name against pattern segment by segment, checks each
// variable against its charset and stores the variables in order. On
// error the variables are left zero.
func scan(name, pattern string, vars ...*string) error {
	fail := func(format string, args ...any) error {
		for _, v := range vars {
			*v = ""
		}
		return &Error{Name: name, Pattern: pattern, Problem: fmt.Sprintf(format, args...)}
	}
	if name == "" {
		return fail("the name is empty")
	}
	want := strings.Split(pattern, "/")
	got := strings.Split(name, "/")
	if len(got) != len(want) {
		return fail("%d segments, want %d", len(got), len(want))
	}
	i := 0
	for k, w := range want {
		g := got[k]
		if !strings.HasPrefix(w, "{") {
			if g != w {
				return fail("segment %d must be %q", k+1, w)
			}
			continue
		}
		if problem := checkID(w, g); problem != "" {
			return fail("%s %s", w, problem)
		}
		*vars[i] = g
		i++
	}
	return nil
}

// checkID returns what is wrong with id as the value of variable v, or "".
func checkID(v, id string) string {
	switch v {
	case "{user}":
		if id == "" || len(id) > 128 {
			return "must be 1 to 128 bytes"
		}
		// '/' cannot be in a segment; nothing else is ruled out.
		return ""
	case "{notification}":
		seq, err := strconv.ParseInt(id, 10, 64)
		if err != nil || seq < 1 || strconv.FormatInt(seq, 10) != id {
			return "must be a sequence number: 1 or more, in decimal without leading zeros or sign"
		}
		return ""
	}
	if id == "" || len(id) > 63 {
		return "must be 1 to 63 lowercase letters or digits"
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return "must be 1 to 63 lowercase letters or digits"
		}
	}
	return ""
}
