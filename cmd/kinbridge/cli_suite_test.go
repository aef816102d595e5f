package main

import (
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"

	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
)

// The tests in this file run the CLI against a real `serve all` in the
// test process, as the people it is for would: an administrator sets a
// family up, a teacher records, a parent reads.

// cliFamily creates, through the CLI and with the admin token from the
// environment, a child with a guardian (maria) and a contributor
// (teacher); it returns the child's resource name.
func cliFamily(t *testing.T) string {
	t.Helper()
	out := mustKB(t, "children", "create", "--name", "Ada", "--birth-date", "2017-05-02",
		"--school", "Hill Primary", "--grade", "3", "--time-zone", "Europe/Lisbon", "--json")
	var child progressv1.Child
	if err := protojson.Unmarshal([]byte(out), &child); err != nil {
		t.Fatalf("--json output is not a Child: %v\n%s", err, out)
	}
	if child.GetDisplayName() != "Ada" || child.GetTimeZone() != "Europe/Lisbon" || !strings.HasPrefix(child.GetName(), "children/") {
		t.Fatalf("created %v", &child)
	}
	// The bare id and the resource name both name the child.
	id := strings.TrimPrefix(child.GetName(), "children/")
	g := mustKB(t, "guardians", "add", id, "--user", "maria", "--role", "guardian", "--relation", "mother")
	if field(t, g, "Role") != "guardian" || field(t, g, "Name") != child.GetName()+"/guardians/maria" {
		t.Fatalf("guardian:\n%s", g)
	}
	mustKB(t, "guardians", "add", child.GetName(), "--user", "teacher", "--role", "contributor")
	return child.GetName()
}

func TestCLIChildrenAndGuardians(t *testing.T) {
	s := startSuite(t)
	t.Setenv("KINBRIDGE_ADDR", s.progress)
	t.Setenv("KINBRIDGE_TOKEN", s.adminToken)
	child := cliFamily(t)
	other := field(t, mustKB(t, "children", "create", "--name", "Bo"), "Name")
	maria := s.userToken(t, "maria", false)
	olga := s.userToken(t, "olga", false)

	t.Run("the guardian sees who follows the child", func(t *testing.T) {
		rows := tableRows(t, mustKB(t, "guardians", "list", child, "--token", maria), "USER")
		if len(rows) != 2 || !slices.Equal(rows[0][:3], []string{"maria", "guardian", "mother"}) || !slices.Equal(rows[1][:3], []string{"teacher", "contributor", "-"}) {
			t.Fatalf("rows %q", rows)
		}
	})
	t.Run("the guardian reads the child", func(t *testing.T) {
		// Flags after the child, the token on the command line over the environment.
		out := mustKB(t, "children", "get", child, "--token", maria)
		for key, want := range map[string]string{"Name": child, "Display name": "Ada", "Birth date": "2017-05-02", "School": "Hill Primary", "Grade": "3", "Time zone": "Europe/Lisbon"} {
			if got := field(t, out, key); got != want {
				t.Errorf("%s: %q, want %q", key, got, want)
			}
		}
	})
	t.Run("the guardian lists only her children", func(t *testing.T) {
		rows := tableRows(t, mustKB(t, "children", "list", "--token", maria), "NAME")
		if len(rows) != 1 || rows[0][0] != child || rows[0][1] != "Ada" {
			t.Fatalf("rows %q", rows)
		}
	})
	t.Run("the admin lists every page", func(t *testing.T) {
		out := mustKB(t, "children", "list", "--page-size", "1", "--json")
		var resp progressv1.ListChildrenResponse
		if err := protojson.Unmarshal([]byte(out), &resp); err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, c := range resp.GetChildren() {
			names = append(names, c.GetName())
		}
		if !slices.Equal(names, []string{child, other}) || resp.GetNextPageToken() != "" {
			t.Fatalf("names %q", names)
		}
	})
	t.Run("a stranger is told the child is not found", func(t *testing.T) {
		out, err := kb(t, "children", "get", child, "--token", olga)
		if err == nil || err.Error() != child+" not found" || out != "" {
			t.Fatalf("got %q, %v", out, err)
		}
		rows, err := kb(t, "children", "list", "--token", olga)
		if err != nil || strings.TrimSpace(rows) != "No children you may see." {
			t.Fatalf("list: %q, %v", rows, err)
		}
	})
	t.Run("the guardian may not change the child", func(t *testing.T) {
		_, err := kb(t, "children", "update", child, "--school", "Elsewhere", "--token", maria)
		if err == nil || !strings.HasPrefix(err.Error(), "permission denied: ") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("an update changes only the flags given and checks the etag", func(t *testing.T) {
		etag := field(t, mustKB(t, "children", "get", child), "Etag")
		out := mustKB(t, "children", "update", child, "--school", "River School", "--etag", etag)
		if field(t, out, "School") != "River School" || field(t, out, "Grade") != "3" || field(t, out, "Birth date") != "2017-05-02" || field(t, out, "Etag") == etag {
			t.Fatalf("update:\n%s", out)
		}
		_, err := kb(t, "children", "update", child, "--school", "Lake School", "--etag", etag)
		if err == nil || !strings.Contains(err.Error(), "changed by someone else") {
			t.Fatalf("stale etag: %v", err)
		}
		// An empty value given on purpose clears the field.
		if out := mustKB(t, "children", "update", child, "--grade", ""); field(t, out, "Grade") != "-" || field(t, out, "School") != "River School" {
			t.Fatalf("clearing the grade:\n%s", out)
		}
	})
	t.Run("field violations one per line", func(t *testing.T) {
		_, err := kb(t, "children", "update", child, "--grade", strings.Repeat("x", 51), "--school", strings.Repeat("x", 201))
		if err == nil {
			t.Fatal("accepted")
		}
		lines := strings.Split(err.Error(), "\n")
		if len(lines) != 3 || !strings.HasPrefix(lines[1], "  child.") || !strings.HasPrefix(lines[2], "  child.") {
			t.Fatalf("got %q", err)
		}
		if !strings.Contains(err.Error(), "  child.grade_level: ") || !strings.Contains(err.Error(), "  child.school: ") {
			t.Fatalf("got %q", err)
		}
	})
	t.Run("a rule the service checks itself", func(t *testing.T) {
		_, err := kb(t, "children", "update", child, "--name", "")
		if err == nil || err.Error() != "invalid request:\n  child.display_name: must not be empty" {
			t.Fatalf("got %q", err)
		}
	})
	t.Run("a duplicate guardian", func(t *testing.T) {
		_, err := kb(t, "guardians", "add", child, "--user", "maria", "--role", "contributor")
		if err == nil || !strings.Contains(err.Error(), "already exists") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("a bad token", func(t *testing.T) {
		_, err := kb(t, "children", "list", "--token", "not-a-jwt")
		if err == nil || !strings.HasPrefix(err.Error(), "not signed in: ") || !strings.Contains(err.Error(), "kinbridge token issue") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("removing a guardian ends her access", func(t *testing.T) {
		out := mustKB(t, "guardians", "remove", child, "maria")
		if !strings.Contains(out, "Removed maria's access to "+child) {
			t.Fatalf("got %q", out)
		}
		if _, err := kb(t, "children", "get", child, "--token", maria); err == nil || !strings.Contains(err.Error(), "not found") {
			t.Fatalf("maria still reads the child: %v", err)
		}
	})
	t.Run("deleting a child", func(t *testing.T) {
		if out := mustKB(t, "children", "delete", child); !strings.Contains(out, "Deleted "+child) {
			t.Fatalf("got %q", out)
		}
		if _, err := kb(t, "children", "get", child); err == nil || !strings.Contains(err.Error(), "not found") {
			t.Fatalf("the child outlived its deletion: %v", err)
		}
		if out := mustKB(t, "children", "delete", other, "--json"); strings.TrimSpace(out) != "{}" {
			t.Fatalf("--json of a delete: %q", out)
		}
	})
}

func TestCLIAssessmentsMilestonesAndSummary(t *testing.T) {
	s := startSuite(t)
	t.Setenv("KINBRIDGE_ADDR", s.progress)
	t.Setenv("KINBRIDGE_TOKEN", s.adminToken)
	child := cliFamily(t)
	teacher := s.userToken(t, "teacher", false)
	maria := s.userToken(t, "maria", false)

	// The contract's worked example (Math latest 70, mean 82.33, trend
	// -20.28), an unscored teacher's note, and a milestone inside and one
	// outside the window.
	first := mustKB(t, "assessments", "add", child, "--token", teacher, "--subject", "Math", "--title", "Fractions quiz",
		"--kind", "test", "--date", "2026-03-01", "--points", "18/20", "--comment", "Well done")
	for key, want := range map[string]string{"Subject": "Math", "Kind": "test", "Date": "2026-03-01", "Score": "18/20", "Percent": "90%", "Comment": "Well done", "Recorded by": "teacher"} {
		if got := field(t, first, key); got != want {
			t.Errorf("%s: %q, want %q", key, got, want)
		}
	}
	letter := mustKB(t, "assessments", "add", child, "--token", teacher, "--subject", "Math", "--title", "Homework 3",
		"--kind", "homework", "--date", "2026-03-15", "--grade", "B+")
	if field(t, letter, "Score") != "B+" || field(t, letter, "Percent") != "87%" {
		t.Errorf("letter grade:\n%s", letter)
	}
	mustKB(t, "assessments", "add", child, "--token", teacher, "--subject", "Math", "--title", "Test 2",
		"--kind", "test", "--date", "2026-03-31", "--points", "70/100")
	mustKB(t, "assessments", "add", child, "--token", teacher, "--subject", "Art", "--title", "Lovely colours",
		"--kind", "teacher-note", "--date", "2026-03-20")
	ms := mustKB(t, "milestones", "add", child, "--token", teacher, "--title", "Read a chapter book alone",
		"--date", "2026-03-10", "--category", "academic", "--description", "The whole of it")
	if field(t, ms, "Category") != "academic" || field(t, ms, "Date") != "2026-03-10" {
		t.Errorf("milestone:\n%s", ms)
	}
	mustKB(t, "milestones", "add", child, "--token", teacher, "--title", "Rode the bus alone", "--date", "2026-02-01", "--category", "life-skills")

	t.Run("the guardian lists every assessment, oldest first", func(t *testing.T) {
		rows := tableRows(t, mustKB(t, "assessments", "list", child, "--token", maria, "--page-size", "1"), "DATE")
		want := [][]string{
			{"2026-03-01", "Math", "test", "Fractions quiz", "18/20", "90%", "teacher"},
			{"2026-03-15", "Math", "homework", "Homework 3", "B+", "87%", "teacher"},
			{"2026-03-20", "Art", "teacher-note", "Lovely colours", "-", "-", "teacher"},
			{"2026-03-31", "Math", "test", "Test 2", "70/100", "70%", "teacher"},
		}
		if len(rows) != len(want) {
			t.Fatalf("rows %q", rows)
		}
		for i := range want {
			if !slices.Equal(rows[i][:7], want[i]) {
				t.Errorf("row %d: %q, want %q", i, rows[i], want[i])
			}
		}
	})
	t.Run("filters", func(t *testing.T) {
		count := func(args ...string) int {
			out := mustKB(t, append([]string{"assessments", "list", child, "--token", maria, "--json"}, args...)...)
			var resp progressv1.ListAssessmentsResponse
			if err := protojson.Unmarshal([]byte(out), &resp); err != nil {
				t.Fatal(err)
			}
			return len(resp.GetAssessments())
		}
		for _, tt := range []struct {
			args []string
			want int
		}{
			{[]string{"--subject", "Math"}, 3},
			{[]string{"--kind", "test"}, 2},
			{[]string{"--from", "2026-03-10", "--to", "2026-03-20"}, 2},
			{[]string{"--subject", "Math", "--kind", "homework"}, 1},
		} {
			if got := count(tt.args...); got != tt.want {
				t.Errorf("%q: %d, want %d", tt.args, got, tt.want)
			}
		}
		rows := tableRows(t, mustKB(t, "milestones", "list", child, "--token", maria), "DATE")
		if len(rows) != 2 || rows[0][2] != "Rode the bus alone" || rows[1][2] != "Read a chapter book alone" {
			t.Errorf("milestones %q", rows)
		}
		rows = tableRows(t, mustKB(t, "milestones", "list", child, "--token", maria, "--category", "academic"), "DATE")
		if len(rows) != 1 || rows[0][1] != "academic" {
			t.Errorf("academic milestones %q", rows)
		}
		if out := mustKB(t, "milestones", "list", child, "--token", maria, "--from", "2026-04-01"); strings.TrimSpace(out) != "No milestones." {
			t.Errorf("empty window: %q", out)
		}
	})
	t.Run("the guardian reads the summary", func(t *testing.T) {
		out := mustKB(t, "summary", child, "--token", maria, "--from", "2026-03-01", "--to", "2026-03-31")
		if !strings.HasPrefix(out, "Progress of "+child+" from 2026-03-01 to 2026-03-31\n") {
			t.Errorf("heading:\n%s", out)
		}
		header := "SUBJECT         COUNT  SCORED  LATEST %  MEAN %  TREND (PTS/30D)"
		rows := tableRows(t, out, header)
		want := [][]string{
			{"Art", "1", "0", "-", "-", "-"},
			{"Math", "3", "3", "70", "82.33", "-20.28"},
			{"(all subjects)", "4", "3", "70", "82.33", "-20.28"},
		}
		if len(rows) != len(want) {
			t.Fatalf("rows %q in\n%s", rows, out)
		}
		for i := range want {
			if !slices.Equal(rows[i], want[i]) {
				t.Errorf("row %d: %q, want %q", i, rows[i], want[i])
			}
		}
		if !strings.Contains(out, "Milestones achieved (1):") {
			t.Errorf("milestones:\n%s", out)
		}
		ms := tableRows(t, out, "DATE")
		if len(ms) != 1 || !slices.Equal(ms[0][:3], []string{"2026-03-10", "academic", "Read a chapter book alone"}) {
			t.Errorf("milestones %q", ms)
		}

		var sum progressv1.ProgressSummary
		if err := protojson.Unmarshal([]byte(mustKB(t, "summary", child, "--token", maria, "--json")), &sum); err != nil {
			t.Fatal(err)
		}
		if sum.GetOverall().GetAssessmentCount() != 4 || len(sum.GetMilestones()) != 2 || sum.GetStartDate() != "" {
			t.Errorf("summary of everything: %v", &sum)
		}
	})
	t.Run("a guardian may not record", func(t *testing.T) {
		out, err := kb(t, "assessments", "add", child, "--token", maria, "--subject", "Math", "--title", "Sneaky",
			"--kind", "test", "--date", "2026-03-02", "--points", "20/20")
		if err == nil || !strings.HasPrefix(err.Error(), "permission denied: ") || out != "" {
			t.Fatalf("got %q, %v", out, err)
		}
		if strings.Contains(err.Error(), "--request-id") {
			t.Errorf("a refusal is no unknown outcome: %v", err)
		}
		if _, err := kb(t, "milestones", "add", child, "--token", maria, "--title", "Sneaky", "--date", "2026-03-02"); err == nil || !strings.HasPrefix(err.Error(), "permission denied: ") {
			t.Fatalf("milestone: %v", err)
		}
	})
	t.Run("a stranger is told the child is not found", func(t *testing.T) {
		olga := s.userToken(t, "olga", false)
		for _, args := range [][]string{{"summary", child}, {"assessments", "list", child}, {"milestones", "list", child}} {
			if _, err := kb(t, append(args, "--token", olga)...); err == nil || err.Error() != child+" not found" {
				t.Errorf("%q: %v", args, err)
			}
		}
	})
	t.Run("a replayed request id records once", func(t *testing.T) {
		add := []string{"assessments", "add", child, "--token", teacher, "--subject", "Science", "--title", "Volcano",
			"--kind", "project", "--date", "2026-04-01", "--points", "9/10", "--request-id", "science-fair-1"}
		a, b := mustKB(t, add...), mustKB(t, add...)
		if field(t, a, "Name") != field(t, b, "Name") {
			t.Errorf("two assessments:\n%s\n%s", a, b)
		}
		if rows := tableRows(t, mustKB(t, "assessments", "list", child, "--subject", "Science"), "DATE"); len(rows) != 1 {
			t.Errorf("science rows %q", rows)
		}
		addM := []string{"milestones", "add", child, "--token", teacher, "--title", "Won the science fair", "--date", "2026-04-02", "--request-id", "science-fair-1"}
		if a, b := mustKB(t, addM...), mustKB(t, addM...); field(t, a, "Name") != field(t, b, "Name") {
			t.Errorf("two milestones:\n%s\n%s", a, b)
		}
		if rows := tableRows(t, mustKB(t, "milestones", "list", child, "--from", "2026-04-01"), "DATE"); len(rows) != 1 {
			t.Errorf("april milestones %q", rows)
		}
	})
}
