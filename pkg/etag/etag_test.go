package etag

import (
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestRoundTrip(t *testing.T) {
	for _, rev := range []int64{1, 2, 42, 1 << 62} {
		got, err := Revision("child.etag", Of(rev))
		if err != nil || got != rev {
			t.Errorf("Revision(Of(%d)) = %d, %v", rev, got, err)
		}
	}
	if got, err := Revision("child.etag", ""); got != 0 || err != nil {
		t.Errorf("an empty etag: %d, %v; want 0 (any revision)", got, err)
	}
}

func TestForeignEtagsAreRefused(t *testing.T) {
	for _, e := range []string{"42", "v", "v0", "v-1", "V42", "v42x", " v42", "v+42", "v042", "vx", "v99999999999999999999", "W/\"v42\""} {
		if _, err := Revision("child.etag", e); status.Code(err) != codes.InvalidArgument {
			t.Errorf("Revision(%q): %v, want InvalidArgument", e, err)
		}
	}
}
