// Package discussion is the conversation about a recorded item: comments
// and reactions on assessments and milestones (kept by progress) and on
// media items (kept by media).
//
// Each item's own service keeps its conversation, in its own database, in
// tables whose rows reference the item's row with ON DELETE CASCADE: an
// item deleted (or a child deleted, which deletes its items) takes its
// comments and reactions with it in the same transaction, whichever code
// path deletes it. This package holds what the services share: the rules
// (validation, names, who may do what), the SQL ([Store]) and the
// handling of the API's methods ([Handler]), so progress and media answer
// alike.
package discussion

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	discussionv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/discussion/v1"
	"github.com/kinbridge/kinbridge/pkg/names"
	"github.com/kinbridge/kinbridge/pkg/validate"
)

// Kind is a reaction's kind; the numbers are the contract's ReactionKind.
// Kind 0 is stored for a reaction its user removed (see [Store.DeleteReaction]).
type Kind int

// Reaction kinds.
const (
	KindNone  Kind = 0
	KindHeart Kind = 1
	KindClap  Kind = 2
	KindStar  Kind = 3
	KindLaugh Kind = 4
	KindWow   Kind = 5
	// maxKind is the highest kind.
	maxKind = KindWow
)

// MaxCommentRunes is the longest comment, in characters, after trimming.
const MaxCommentRunes = 1000

// CheckText trims a comment's text and checks its length: 1 to
// MaxCommentRunes characters, valid UTF-8 text without control characters
// other than tabs and line breaks (a NUL byte fails on PostgreSQL, and
// terminal escapes would reach logs, mails and other readers).
// field names it in the violation.
func CheckText(field, text string) (string, *validate.Field) {
	t := strings.TrimSpace(text)
	switch n := utf8.RuneCountInString(t); {
	case !utf8.ValidString(t):
		return "", &validate.Field{Path: field, Description: "must be UTF-8 text"}
	case strings.IndexFunc(t, isForbiddenControl) >= 0:
		return "", &validate.Field{Path: field, Description: "must be text: no control characters other than tabs and line breaks"}
	case strings.IndexFunc(t, isBidiControl) >= 0:
		return "", &validate.Field{Path: field, Description: "must be text: no bidirectional embedding, override or isolate characters (U+202A-U+202E, U+2066-U+2069)"}
	case n == 0 || strings.IndexFunc(t, isVisible) < 0:
		return "", &validate.Field{Path: field, Description: "is required: at least one visible character"}
	case n > MaxCommentRunes:
		return "", &validate.Field{Path: field, Description: fmt.Sprintf("must be at most %d characters (it has %d)", MaxCommentRunes, n)}
	}
	return t, nil
}

// isForbiddenControl reports a control character a comment may not hold.
func isForbiddenControl(r rune) bool {
	return unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r'
}

// isVisible reports a character that shows on its own: not a space, not a
// format character (zero-width space, joiner, byte order mark), not a mark
// that only combines with another.
func isVisible(r rune) bool {
	return !unicode.IsSpace(r) && !unicode.In(r, unicode.Cf, unicode.Mn, unicode.Me)
}

// isBidiControl reports an explicit bidirectional formatting character:
// one can make a comment read otherwise than it is stored ("Trojan
// Source"), and right-to-left text needs none of them to show rightly.
func isBidiControl(r rune) bool {
	return (r >= '\u202A' && r <= '\u202E') || (r >= '\u2066' && r <= '\u2069')
}

// CheckKind checks a reaction kind of the contract: one of the kinds,
// never unspecified.
func CheckKind(field string, k discussionv1.ReactionKind) (Kind, *validate.Field) {
	if k <= 0 || Kind(k) > maxKind {
		return KindNone, &validate.Field{Path: field, Description: "must be one of REACTION_KIND_HEART, _CLAP, _STAR, _LAUGH, _WOW"}
	}
	return Kind(k), nil
}

// Ref names an item: `children/{child}/{collection}/{id}`.
type Ref struct{ Child, Collection, ID string }

// Collections of items that have conversations.
const (
	Assessments = "assessments"
	Milestones  = "milestones"
	Media       = "media"
)

func (r Ref) String() string { return "children/" + r.Child + "/" + r.Collection + "/" + r.ID }

// CommentName is `{item}/comments/{comment}`.
type CommentName struct {
	Item Ref
	ID   string
}

func (n CommentName) String() string { return n.Item.String() + "/comments/" + n.ID }

// ReactionName is `{item}/reactions/{user}`; {user} may be `me`.
type ReactionName struct {
	Item Ref
	User string
}

func (n ReactionName) String() string { return n.Item.String() + "/reactions/" + n.User }

// parseItem parses the item's part of a name with the names package.
func parseItem(name string) (Ref, error) {
	segs := strings.Split(name, "/")
	if len(segs) == 4 {
		switch segs[2] {
		case Assessments:
			n, err := names.ParseAssessment(name)
			return Ref{n.Child, Assessments, n.ID}, err
		case Milestones:
			n, err := names.ParseMilestone(name)
			return Ref{n.Child, Milestones, n.ID}, err
		case Media:
			n, err := names.ParseMediaItem(name)
			return Ref{n.Child, Media, n.ID}, err
		}
	}
	return Ref{}, &names.Error{Name: name, Pattern: "children/{child}/{assessments|milestones|media}/{item}", Problem: "not an item's name"}
}

// ItemParser returns the parser of item names in the given collections.
func ItemParser(collections ...string) func(string) (Ref, error) {
	return func(name string) (Ref, error) {
		r, err := parseItem(name)
		if err != nil {
			return Ref{}, err
		}
		for _, c := range collections {
			if r.Collection == c {
				return r, nil
			}
		}
		return Ref{}, &names.Error{Name: name, Pattern: pattern(collections, ""), Problem: "not an item of this service"}
	}
}

func pattern(collections []string, tail string) string {
	return "children/{child}/{" + strings.Join(collections, "|") + "}/{item}" + tail
}

// splitTail splits `{item}/{segment}/{last}` and checks the item.
func splitTail(name, segment string, collections []string) (Ref, string, error) {
	tail := "/" + segment + "/{" + strings.TrimSuffix(segment, "s") + "}"
	i := strings.LastIndex(name, "/")
	j := -1
	if i > 0 {
		j = strings.LastIndex(name[:i], "/")
	}
	if j < 0 || name[j+1:i] != segment {
		return Ref{}, "", &names.Error{Name: name, Pattern: pattern(collections, tail), Problem: "not a name of " + segment}
	}
	r, err := ItemParser(collections...)(name[:j])
	if err != nil {
		return Ref{}, "", &names.Error{Name: name, Pattern: pattern(collections, tail), Problem: "the item's part is not an item's name"}
	}
	return r, name[i+1:], nil
}

// CommentParser returns the parser of comment names under items of the
// given collections.
func CommentParser(collections ...string) func(string) (CommentName, error) {
	return func(name string) (CommentName, error) {
		r, id, err := splitTail(name, "comments", collections)
		if err != nil {
			return CommentName{}, err
		}
		if !validID(id) {
			return CommentName{}, &names.Error{Name: name, Pattern: pattern(collections, "/comments/{comment}"),
				Problem: "{comment} must be 1 to 63 lowercase letters or digits"}
		}
		return CommentName{Item: r, ID: id}, nil
	}
}

// ReactionParser returns the parser of reaction names under items of the
// given collections.
func ReactionParser(collections ...string) func(string) (ReactionName, error) {
	return func(name string) (ReactionName, error) {
		r, user, err := splitTail(name, "reactions", collections)
		if err != nil {
			return ReactionName{}, err
		}
		if user == "" || len(user) > 128 {
			return ReactionName{}, &names.Error{Name: name, Pattern: pattern(collections, "/reactions/{user}"),
				Problem: "{user} must be 1 to 128 bytes"}
		}
		return ReactionName{Item: r, User: user}, nil
	}
}

func validID(id string) bool {
	if id == "" || len(id) > 63 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}
