package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/kinbridge/kinbridge/gen/openapi"
)

func TestJSONNamesIn(t *testing.T) {
	names := protoJSONNames()
	for in, want := range map[string]string{
		"The `next_page_token` of a previous call.":            "The `nextPageToken` of a previous call.",
		"`child.display_name` and `assessed_date`":             "`child.displayName` and `assessedDate`",
		"`subject` stays; so does `not_a_field` and next_page": "`subject` stays; so does `not_a_field` and next_page",
		"`display_name.not_a_field` is not a path of fields":   "`display_name.not_a_field` is not a path of fields",
		"ERROR_REASON_TOO_LARGE and `TOO_LARGE`":               "ERROR_REASON_TOO_LARGE and `TOO_LARGE`",
	} {
		if got := jsonNamesIn(in, names); got != want {
			t.Errorf("jsonNamesIn(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestDescriptionsNameJSONFields: no code span anywhere in the published
// spec (descriptions, summaries, the hand-written routes) names a field by
// its proto name where REST readers see another.
func TestDescriptionsNameJSONFields(t *testing.T) {
	names := protoJSONNames()
	if names["next_page_token"] != "nextPageToken" {
		t.Fatalf("the public fields were not found: %v", names)
	}
	spans := regexp.MustCompile("`[^`\n]+`").FindAllString(string(openapi.Spec), -1)
	for _, span := range spans {
		for part := range strings.SplitSeq(strings.Trim(span, "`"), ".") {
			if json, ok := names[part]; ok {
				t.Errorf("the spec says %s where REST has %q", span, json)
			}
		}
	}
}
