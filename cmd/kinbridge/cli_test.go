package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"math"
	"net"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/durationpb"

	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
)

// kb runs one command line in process, as main would, and returns what it
// printed on stdout.
func kb(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, &out, &errOut)
	return out.String(), err
}

// mustKB runs a command line that must succeed.
func mustKB(t *testing.T, args ...string) string {
	t.Helper()
	out, err := kb(t, args...)
	if err != nil {
		t.Fatalf("kinbridge %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// columnsRE splits a table line: tabwriter pads cells with at least two
// spaces, and no value in these tests holds two spaces in a row.
var columnsRE = regexp.MustCompile(`\s{2,}`)

// tableRows returns the rows of the table in out whose header line starts
// with header, up to the next blank line, each split into cells.
func tableRows(t *testing.T, out, header string) [][]string {
	t.Helper()
	var rows [][]string
	in := false
	for line := range strings.SplitSeq(out, "\n") {
		switch {
		case !in && strings.HasPrefix(line, header):
			in = true
		case in && strings.TrimSpace(line) == "":
			return rows
		case in:
			rows = append(rows, columnsRE.Split(strings.TrimSpace(line), -1))
		}
	}
	if !in {
		t.Fatalf("no table starting with %q in:\n%s", header, out)
	}
	return rows
}

// field returns the value of key in a one-record table ("School  Hill Primary").
func field(t *testing.T, out, key string) string {
	t.Helper()
	for line := range strings.SplitSeq(out, "\n") {
		cells := columnsRE.Split(strings.TrimSpace(line), 2)
		if len(cells) == 2 && cells[0] == key {
			return cells[1]
		}
	}
	t.Fatalf("no %q in:\n%s", key, out)
	return ""
}

// countingListener accepts and counts connections: an address for commands that
// must never get as far as calling.
func countingListener(t *testing.T) (string, *atomic.Int32) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lis.Close() })
	var n atomic.Int32
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			c.Close()
		}
	}()
	return lis.Addr().String(), &n
}

func TestCLIRefusesBadInputBeforeAnyCall(t *testing.T) {
	addr, connections := countingListener(t)
	t.Setenv("KINBRIDGE_ADDR", addr)
	t.Setenv("KINBRIDGE_TOKEN", "some-token")
	add := []string{"assessments", "add", "abc", "--subject", "Math", "--title", "Quiz", "--kind", "test", "--date", "2026-03-01"}
	with := func(base []string, more ...string) []string { return append(append([]string{}, base...), more...) }

	tests := []struct {
		name string
		args []string
		want string
	}{
		{"points without a slash", with(add, "--points", "18"), "--points must be EARNED/POSSIBLE, for example 18/20: no /"},
		{"points out of nothing", with(add, "--points", "18/0"), "points possible must be more than 0"},
		{"points not numbers", with(add, "--points", "lots/20"), "points earned are not a number"},
		{"points not finite", with(add, "--points", "NaN/20"), "points earned are not a number"},
		{"negative points", with(add, "--points", "-1/20"), "points earned are negative"},
		{"points and a grade", with(add, "--points", "18/20", "--grade", "B"), "--points or --grade, not both"},
		{"empty grade", with(add, "--grade", " "), "--grade is required"},
		{"unknown kind", with(add[:8], "exam", "--date", "2026-03-01"), `--kind "exam" is not one of test, homework, project, report-card, teacher-note`},
		{"impossible date", with(add[:10], "2026-02-30"), "--date must be a day as YYYY-MM-DD"},
		{"missing subject", []string{"assessments", "add", "abc", "--title", "Quiz", "--kind", "test", "--date", "2026-03-01"}, "--subject is required"},
		{"not a child", with([]string{"assessments", "add", "Not/A/Child"}, add[3:]...), `"Not/A/Child" is not a child`},
		{"no child", []string{"assessments", "add", "--subject", "Math"}, "missing arguments"},
		{"extra arguments", with(add, "oops"), "unexpected arguments: oops"},
		{"long request id", with(add, "--request-id", strings.Repeat("x", 65)), "--request-id is at most 64 characters"},
		{"list with unknown kind", []string{"assessments", "list", "abc", "--kind", "exam"}, `--kind "exam" is not one of`},
		{"list with a window backwards", []string{"assessments", "list", "abc", "--from", "2026-04-01", "--to", "2026-03-01"}, "--from 2026-04-01 is after --to 2026-03-01"},
		{"list with page size 0", []string{"assessments", "list", "abc", "--page-size", "0"}, "--page-size must be 1 to 1000"},
		{"unknown category", []string{"milestones", "add", "abc", "--title", "T", "--date", "2026-03-01", "--category", "hobby"}, `--category "hobby" is not one of academic, social, arts, sports, life-skills, other`},
		{"milestone without a title", []string{"milestones", "add", "abc", "--date", "2026-03-01"}, "--title is required"},
		{"milestones list bad date", []string{"milestones", "list", "abc", "--from", "March"}, "--from must be a day"},
		{"unknown role", []string{"guardians", "add", "abc", "--user", "maria", "--role", "king"}, `--role "king" is not one of guardian, contributor`},
		{"no role", []string{"guardians", "add", "abc", "--user", "maria"}, "--role is required: one of guardian, contributor"},
		{"user with a slash", []string{"guardians", "add", "abc", "--user", "a/b", "--role", "guardian"}, "a user id has no /"},
		{"remove without a user", []string{"guardians", "remove", "abc"}, "missing arguments"},
		{"child without a name", []string{"children", "create", "--school", "Hill"}, "--name is required"},
		{"child born on no day", []string{"children", "create", "--name", "Ada", "--birth-date", "2017-13-01"}, "--birth-date must be a day"},
		{"update without fields", []string{"children", "update", "abc", "--etag", "v1"}, "nothing to update: give at least one of --name, --birth-date, --school, --grade, --time-zone"},
		{"a guardianship is not a child", []string{"children", "get", "children/abc/guardians/maria"}, "is not a child"},
		{"upper case id", []string{"children", "get", "ABC"}, `"ABC" is not a child`},
		{"summary window", []string{"summary", "abc", "--to", "yesterday"}, "--to must be a day"},
		{"unknown flag", []string{"children", "list", "--bogus"}, "flag provided but not defined: -bogus\nusage: kinbridge children list"},
		{"flag without its value", []string{"children", "get", "abc", "--timeout"}, "flag needs an argument"},
		{"zero timeout", []string{"children", "list", "--timeout", "0s"}, "--timeout must be positive"},
		{"unknown command", []string{"children", "adopt"}, `unknown command "children adopt"`},
		{"no command", []string{"milestones"}, "milestones what?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := kb(t, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
			if out != "" {
				t.Fatalf("printed %q on a refusal", out)
			}
		})
	}
	if n := connections.Load(); n != 0 {
		t.Fatalf("bad input reached the service: %d connections", n)
	}
}

func TestCLIMissingTokenSaysHowToGetOne(t *testing.T) {
	addr, connections := countingListener(t)
	t.Setenv("KINBRIDGE_ADDR", addr)
	t.Setenv("KINBRIDGE_TOKEN", "")
	_, err := kb(t, "children", "list")
	if err == nil || !strings.Contains(err.Error(), "kinbridge token issue --user U") || !strings.Contains(err.Error(), "KINBRIDGE_TOKEN") ||
		!strings.Contains(err.Error(), "kinbridge token issue --admin") {
		t.Fatalf("got %v", err)
	}
	// serve no longer prints a token: the error must not send people to one.
	if strings.Contains(err.Error(), "printed") {
		t.Fatalf("the error still points at a token serve printed: %v", err)
	}
	if connections.Load() != 0 {
		t.Fatal("called the service without a token")
	}
}

func TestCLIUnreachableServiceTellsHowToRetrySafely(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close() // nothing listens there now

	_, err = kb(t, "children", "list", "--addr", addr, "--token", "t")
	if err == nil || !strings.Contains(err.Error(), "cannot reach the progress service at "+addr) {
		t.Fatalf("list: %v", err)
	}
	_, err = kb(t, "milestones", "add", "abc", "--title", "T", "--date", "2026-03-01", "--addr", addr, "--token", "t")
	if err == nil || !regexp.MustCompile(`again with --request-id [a-z0-9]{26}: it will not be recorded twice`).MatchString(err.Error()) {
		t.Fatalf("add without --request-id: %v", err)
	}
	_, err = kb(t, "milestones", "add", "abc", "--title", "T", "--date", "2026-03-01", "--request-id", "mine-1", "--addr", addr, "--token", "t")
	if err == nil || !strings.Contains(err.Error(), "--request-id mine-1:") {
		t.Fatalf("add with --request-id: %v", err)
	}
}

func TestCLIHelp(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"assessments", "add", "-h"}, &out, &bytes.Buffer{})
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("got %v, want flag.ErrHelp (main exits 0 on it)", err)
	}
	for _, want := range []string{"Usage: kinbridge assessments add CHILD", "-points", "Client flags:", "KINBRIDGE_TOKEN", "CHILD is a child's resource name"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, out.String())
		}
	}
	groups := mustKB(t, "children", "help")
	for _, sub := range childrenCommands {
		if !strings.Contains(groups, "kinbridge children "+sub.name) {
			t.Errorf("children help lacks %s:\n%s", sub.name, groups)
		}
	}
}

func TestCmdlineFlagsAnywhere(t *testing.T) {
	t.Setenv("KINBRIDGE_TOKEN", "from-env")
	t.Setenv("KINBRIDGE_ADDR", "")
	os.Unsetenv("KINBRIDGE_ADDR")                     // t.Setenv restores it after the test
	t.Setenv("KINBRIDGE_SUBJECT", "must not be read") // only client flags fall back to the environment
	cmd := newCmdline("assessments list", "CHILD", progressAPI, &bytes.Buffer{}, &bytes.Buffer{})
	var subject, kind string
	cmd.local.StringVar(&subject, "subject", "", "")
	cmd.local.StringVar(&kind, "kind", "", "")
	args, err := cmd.parse([]string{"--json", "abc", "--kind=test", "-timeout", "3s", "--", "--not-a-flag"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(args, " ") != "abc --not-a-flag" {
		t.Errorf("positional %q", args)
	}
	if !cmd.client.json || cmd.client.timeout.String() != "3s" || kind != "test" {
		t.Errorf("flags: %+v kind=%q", cmd.client, kind)
	}
	if cmd.client.token != "from-env" || cmd.client.addr != "127.0.0.1:9101" {
		t.Errorf("client flags from env/default: %+v", cmd.client)
	}
	if subject != "" || cmd.given("subject") || !cmd.given("kind") {
		t.Errorf("subject %q given=%v; kind given=%v", subject, cmd.given("subject"), cmd.given("kind"))
	}
}

func TestParsePoints(t *testing.T) {
	tests := []struct {
		in               string
		earned, possible float64
		ok               bool
	}{
		{"18/20", 18, 20, true},
		{" 7.5 / 10 ", 7.5, 10, true},
		{"22/20", 22, 20, true}, // extra credit
		{"0/5", 0, 5, true},
		{"18", 0, 0, false},
		{"18/", 0, 0, false},
		{"/20", 0, 0, false},
		{"18/20/30", 0, 0, false},
		{"Inf/20", 0, 0, false},
		{"18/-20", 0, 0, false},
		{"", 0, 0, false},
	}
	for _, tt := range tests {
		p, err := parsePoints(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("%q: err %v, want ok=%v", tt.in, err, tt.ok)
			continue
		}
		if tt.ok && (p.GetEarned() != tt.earned || p.GetPossible() != tt.possible) {
			t.Errorf("%q: got %v", tt.in, p)
		}
	}
}

func TestChildName(t *testing.T) {
	for in, want := range map[string]string{"abc123": "children/abc123", "children/abc123": "children/abc123"} {
		if got, err := childName(in); err != nil || got != want {
			t.Errorf("%q: %q %v", in, got, err)
		}
	}
	for _, in := range []string{"", "children/", "children/ABC", "abc/def", "children/abc/guardians/x", strings.Repeat("a", 64), "a b"} {
		if _, err := childName(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func TestEnumWordsRoundTrip(t *testing.T) {
	for _, e := range []protoreflect.EnumDescriptor{roleEnum, kindEnum, categoryEnum} {
		for i := range e.Values().Len() {
			v := e.Values().Get(i)
			if v.Number() == 0 {
				if _, err := parseEnum(e, "x", string(v.Name())); err == nil {
					t.Errorf("%s accepted", v.Name())
				}
				continue
			}
			word := enumWord(e, v.Number())
			for _, in := range []string{word, strings.ToUpper(word), string(v.Name())} {
				if n, err := parseEnum(e, "x", in); err != nil || n != v.Number() {
					t.Errorf("%s: %q parsed as %v, %v", v.Name(), in, n, err)
				}
			}
		}
	}
	if got := enumWord(kindEnum, progressv1.AssessmentKind_ASSESSMENT_KIND_REPORT_CARD.Number()); got != "report-card" {
		t.Errorf("report card is %q", got)
	}
}

func TestNumbers(t *testing.T) {
	tests := []struct {
		f    func(float64) string
		in   float64
		want string
	}{
		{number, 90, "90"},
		{number, 82.3333, "82.33"},
		{number, 18.5, "18.5"},
		{number, -0.001, "0"},
		{signed, -20.28, "-20.28"},
		{signed, 5.5, "+5.5"},
		{signed, 0.001, "0"},
		{percent, 87, "87%"},
	}
	for _, tt := range tests {
		if got := tt.f(tt.in); got != tt.want {
			t.Errorf("%v: got %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := optional(nil, number); got != "-" {
		t.Errorf("absent: %q", got)
	}
}

func TestCellKeepsTablesAndTerminalsIntact(t *testing.T) {
	if got := cell("Well\tdone\n\x1b[31mred"); got != "Well done  [31mred" {
		t.Errorf("got %q", got)
	}
	if got := cell(""); got != "-" {
		t.Errorf("empty: %q", got)
	}
}

func FuzzParsePoints(f *testing.F) {
	for _, s := range []string{"18/20", "7.5/10", "18", "/", "1e309/1", "0x1p-2/3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parsePoints(s)
		if err != nil {
			return
		}
		// What passes must pass the contract's constraints too.
		if p.GetEarned() < 0 || p.GetPossible() <= 0 || math.IsNaN(p.GetEarned()) || math.IsInf(p.GetEarned(), 0) || math.IsInf(p.GetPossible(), 0) {
			t.Fatalf("%q gave %v", s, p)
		}
	})
}

func FuzzChildName(f *testing.F) {
	for _, s := range []string{"abc", "children/abc", "children/", "a/b"} {
		f.Add(s)
	}
	childNameRE := regexp.MustCompile(`^children/[a-z0-9]{1,63}$`) // the contract's pattern
	f.Fuzz(func(t *testing.T, s string) {
		name, err := childName(s)
		if err == nil && !childNameRE.MatchString(name) {
			t.Fatalf("%q gave %q", s, name)
		}
	})
}

func TestExplain(t *testing.T) {
	c := &client{flags: clientFlags{addr: "progress:9101", timeout: 3 * time.Second}}
	withDetails := func(st *status.Status, details ...protoadapt.MessageV1) error {
		st, err := st.WithDetails(details...)
		if err != nil {
			t.Fatal(err)
		}
		return st.Err()
	}
	violations := &errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
		{Field: "assessment.title", Description: "must be at most 200 characters"},
		{Field: "assessment.subject", Description: "must not be empty"},
	}}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"violations once each, a line apiece",
			withDetails(status.New(codes.InvalidArgument, "invalid request: assessment.title: must be at most 200 characters; assessment.subject: must not be empty"), violations),
			"invalid request:\n  assessment.title: must be at most 200 characters\n  assessment.subject: must not be empty"},
		{"violations with a message of another shape",
			withDetails(status.New(codes.InvalidArgument, "bad assessment"), violations),
			"bad assessment:\n  assessment.title: must be at most 200 characters\n  assessment.subject: must not be empty"},
		{"permission", status.Error(codes.PermissionDenied, "your role does not allow this"), "permission denied: your role does not allow this"},
		{"not found, plainly", status.Error(codes.NotFound, "children/abc not found"), "children/abc not found"},
		{"deadline", status.Error(codes.DeadlineExceeded, "context deadline exceeded"), "no answer from the progress service at progress:9101 within 3s (--timeout)"},
		{"rate limited", withDetails(status.New(codes.ResourceExhausted, "slow down"), &errdetails.RetryInfo{RetryDelay: durationpb.New(2 * time.Second)}), "slow down: try again in 2s"},
		{"unimplemented", status.Error(codes.Unimplemented, "method X not implemented"), "the progress service at progress:9101 does not offer this yet (Unimplemented): method X not implemented"},
	}
	for _, tt := range tests {
		if got := c.explain(tt.err).Error(); got != tt.want {
			t.Errorf("%s:\ngot  %q\nwant %q", tt.name, got, tt.want)
		}
	}
}
