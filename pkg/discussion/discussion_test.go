package discussion_test

import (
	"strings"
	"testing"

	discussionv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/discussion/v1"
	"github.com/kinbridge/kinbridge/pkg/discussion"
)

func TestCheckText(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
		bad            bool
	}{
		{"trimmed", "  well done!\n", "well done!", false},
		{"empty", "", "", true},
		{"only white space", " \t\n ", "", true},
		{"1000 characters", strings.Repeat("é", 1000), strings.Repeat("é", 1000), false},
		{"1000 characters once trimmed", "  " + strings.Repeat("a", 1000) + "\n", strings.Repeat("a", 1000), false},
		{"1001 characters", strings.Repeat("é", 1001), "", true},
		{"not UTF-8", "a\xffb", "", true},
		{"lines and tabs kept", "one\r\n\ttwo", "one\r\n\ttwo", false},
		{"a NUL byte", "a\x00b", "", true},
		{"a terminal escape", "hi \x1b[2J\x1b[31mowned", "", true},
		{"a C1 control", "a\u0085b\u009bc", "", true},
		{"DEL", "a\x7fb", "", true},
		{"a right-to-left override", "paid \u202Eevil\u202C", "", true},
		{"an isolate", "a\u2067b\u2069", "", true},
		{"Hebrew and Arabic as they are", "שלום مرحبا", "שלום مرحبا", false},
		{"zero-width spaces only", "\u200B\u200B", "", true},
		{"byte order marks only", "\uFEFF \uFEFF", "", true},
		{"combining marks only", "\u0301\u0308", "", true},
		{"an emoji with a joiner", "👩\u200D👧", "👩\u200D👧", false},
		{"an accent on a letter", "e\u0301", "e\u0301", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, bad := discussion.CheckText("comment.text", tc.in)
			if (bad != nil) != tc.bad || got != tc.want {
				t.Fatalf("CheckText = %q, %+v", got, bad)
			}
			if bad != nil && bad.Path != "comment.text" {
				t.Fatalf("path = %q", bad.Path)
			}
		})
	}
}

func TestCheckKind(t *testing.T) {
	for k, ok := range map[discussionv1.ReactionKind]bool{0: false, 1: true, 5: true, 6: false, -1: false} {
		if _, bad := discussion.CheckKind("reaction.kind", k); (bad == nil) != ok {
			t.Errorf("kind %d: %+v", k, bad)
		}
	}
}

func TestNames(t *testing.T) {
	progress := []string{discussion.Assessments, discussion.Milestones}
	c, err := discussion.CommentParser(progress...)("children/c1/milestones/m1/comments/x9")
	if err != nil || c.Item != (discussion.Ref{Child: "c1", Collection: "milestones", ID: "m1"}) || c.ID != "x9" {
		t.Fatalf("comment = %+v, %v", c, err)
	}
	if c.String() != "children/c1/milestones/m1/comments/x9" {
		t.Fatalf("String = %q", c.String())
	}
	r, err := discussion.ReactionParser(discussion.Media)("children/c1/media/p1/reactions/me")
	if err != nil || r.User != "me" || r.Item.Collection != "media" {
		t.Fatalf("reaction = %+v, %v", r, err)
	}
	for _, bad := range []string{
		"children/c1/media/p1/comments/x",           // not a progress item
		"children/c1/assessments/a1/comments/X",     // id charset
		"children/c1/assessments/a1/comments/",      // empty id
		"children/c1/assessments/a1/reactions/x",    // not a comment
		"children/c1/assessments/comments/x",        // no item id
		"children/C1/assessments/a1/comments/x",     // child charset
		"x/children/c1/assessments/a1/comments/x",   // extra segment
		"children/c1/assessments/a1/b/comments/x",   // extra segment
		"children/c1/assessments/a1/comments/x/y/z", // trailing
	} {
		if _, err := discussion.CommentParser(progress...)(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	if _, err := discussion.ItemParser(discussion.Media)("children/c1/assessments/a1"); err == nil {
		t.Error("an assessment parsed as a media item")
	}
}
