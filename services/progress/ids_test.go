package progress

import (
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/kinbridge/kinbridge/pkg/pagetoken"
)

func TestPageTokens(t *testing.T) {
	tok := pagetoken.Encode("children", cursor{AfterTime: 7, AfterID: "abc"})
	got, err := decodePageToken(tok, "children")
	if err != nil || got.AfterTime != 7 || got.AfterID != "abc" {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	if _, err := decodePageToken(tok, "children:maria"); status.Code(err) != codes.InvalidArgument {
		t.Errorf("a token of another listing was accepted: %v", err)
	}
	if got, err := decodePageToken("", "children"); got != nil || err != nil {
		t.Errorf("empty token: %v %v", got, err)
	}
}

func TestUpdateMaskPaths(t *testing.T) {
	for _, tt := range []struct {
		paths []string
		want  []string
		fail  bool
	}{
		{nil, []string{"display_name", "birth_date", "school", "grade_level", "time_zone", "guardians_may_invite", "require_approval"}, false},
		{[]string{"*"}, []string{"display_name", "birth_date", "school", "grade_level", "time_zone", "guardians_may_invite", "require_approval"}, false},
		{[]string{"displayName", "school"}, []string{"display_name", "school"}, false},
		{[]string{"grade_level", "etag", "name", "updateTime"}, []string{"grade_level"}, false},
		{[]string{"school", "shoe_size"}, nil, true},
	} {
		got, err := childUpdatable.paths(&fieldmaskpb.FieldMask{Paths: tt.paths})
		if (err != nil) != tt.fail {
			t.Errorf("%v: error %v", tt.paths, err)
			continue
		}
		if len(got) != len(tt.want) {
			t.Errorf("%v: got %v, want %v", tt.paths, got, tt.want)
		}
		for _, w := range tt.want {
			if !got[w] {
				t.Errorf("%v: %s missing from %v", tt.paths, w, got)
			}
		}
	}
}
