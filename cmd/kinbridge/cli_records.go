package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"strconv"
	"strings"

	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
	"github.com/kinbridge/kinbridge/pkg/names"
)

// assessmentsCommands are `kinbridge assessments ...`.
var assessmentsCommands = []subcommand{
	{"add", "CHILD --subject S --title T --kind KIND --date YYYY-MM-DD [--points 18/20 | --grade B+] [--comment C] [--request-id ID]", "record an assessment (contributors)", assessmentsAdd},
	{"list", "CHILD [--subject S] [--kind KIND] [--from DATE] [--to DATE]", "list a child's assessments, oldest first", assessmentsList},
}

// milestonesCommands are `kinbridge milestones ...`.
var milestonesCommands = []subcommand{
	{"add", "CHILD --title T --date YYYY-MM-DD [--category C] [--description D] [--request-id ID]", "record a milestone (contributors)", milestonesAdd},
	{"list", "CHILD [--category C] [--from DATE] [--to DATE]", "list a child's milestones, oldest first", milestonesList},
}

// summaryCommand is `kinbridge summary`, which has no subcommands.
var summaryCommand = subcommand{"summary", "CHILD [--from DATE] [--to DATE]", "per-subject progress and milestones in a window of days", summaryRun}

var (
	kindEnum     = progressv1.AssessmentKind(0).Descriptor()
	categoryEnum = progressv1.MilestoneCategory(0).Descriptor()
)

// requestID returns the id that makes a create safe to send again: the
// one given, or a fresh random one, so even a command that retries on its
// own never records twice.
func requestID(given string) (string, error) {
	if given == "" {
		return strings.ToLower(rand.Text()), nil
	}
	if len(given) > 64 {
		return "", usagef("--request-id is at most 64 characters, got %d", len(given))
	}
	return given, nil
}

func assessmentsAdd(ctx context.Context, cmd *cmdline, args []string) error {
	var subject, title, kind, date, points, grade, comment, reqID string
	cmd.local.StringVar(&subject, "subject", "", `the subject, for example "Math"`)
	cmd.local.StringVar(&title, "title", "", `what was assessed, for example "Fractions quiz"`)
	cmd.local.StringVar(&kind, "kind", "", "one of "+strings.Join(enumWords(kindEnum), ", "))
	cmd.local.StringVar(&date, "date", "", "the day it was assessed, YYYY-MM-DD in the child's time zone")
	cmd.local.StringVar(&points, "points", "", "the score as EARNED/POSSIBLE, for example 18/20")
	cmd.local.StringVar(&grade, "grade", "", "the score as a letter grade, for example B+")
	cmd.local.StringVar(&comment, "comment", "", "what the teacher wrote")
	cmd.local.StringVar(&reqID, "request-id", "", "an id that makes sending this again safe (default: a random one)")
	args, err := cmd.parse(args)
	if err != nil {
		return err
	}
	if err := cmd.wantArgs(args, 1); err != nil {
		return err
	}
	parent, err := childName(args[0])
	if err != nil {
		return err
	}
	for _, f := range []struct{ name, v string }{{"subject", subject}, {"title", title}, {"kind", kind}, {"date", date}} {
		if err := required(f.name, f.v); err != nil {
			return err
		}
	}
	k, err := parseEnum(kindEnum, "kind", kind)
	if err != nil {
		return err
	}
	if err := checkDate("date", date); err != nil {
		return err
	}
	a := &progressv1.Assessment{
		Subject: subject, Title: title, Kind: progressv1.AssessmentKind(k),
		AssessedDate: date, TeacherComment: comment,
	}
	switch {
	case cmd.given("points") && cmd.given("grade"):
		return usagef("give --points or --grade, not both")
	case cmd.given("points"):
		p, err := parsePoints(points)
		if err != nil {
			return err
		}
		a.Score = &progressv1.Score{Value: &progressv1.Score_Points{Points: p}}
	case cmd.given("grade"):
		if err := required("grade", grade); err != nil {
			return err
		}
		a.Score = &progressv1.Score{Value: &progressv1.Score_LetterGrade{LetterGrade: strings.TrimSpace(grade)}}
	}
	id, err := requestID(reqID)
	if err != nil {
		return err
	}
	c, err := cmd.connect()
	if err != nil {
		return err
	}
	defer c.close()
	got, err := createOnce(ctx, c, c.api.CreateAssessment, &progressv1.CreateAssessmentRequest{Parent: parent, Assessment: a, RequestId: id}, id)
	if err != nil {
		return err
	}
	return c.emit(got, func(w io.Writer) {
		row(w, "Name", got.GetName())
		row(w, "Subject", got.GetSubject())
		row(w, "Title", got.GetTitle())
		row(w, "Kind", enumWord(kindEnum, got.GetKind().Number()))
		row(w, "Date", got.GetAssessedDate())
		row(w, "Score", score(got.GetScore()))
		row(w, "Percent", optional(got.Percent, percent))
		row(w, "Comment", got.GetTeacherComment())
		row(w, "Recorded by", got.GetRecordedBy())
		row(w, "Recorded", when(got.GetCreateTime()))
		row(w, "Etag", got.GetEtag())
	})
}

func assessmentsList(ctx context.Context, cmd *cmdline, args []string) error {
	var subject, kind, from, to string
	var pageSize int
	cmd.local.StringVar(&subject, "subject", "", "only this subject (exact match)")
	cmd.local.StringVar(&kind, "kind", "", "only this kind: "+strings.Join(enumWords(kindEnum), ", "))
	cmd.local.StringVar(&from, "from", "", "only on or after this day, YYYY-MM-DD")
	cmd.local.StringVar(&to, "to", "", "only on or before this day, YYYY-MM-DD")
	cmd.local.IntVar(&pageSize, "page-size", 1000, "how many to fetch per call, 1 to 1000")
	args, err := cmd.parse(args)
	if err != nil {
		return err
	}
	if err := cmd.wantArgs(args, 1); err != nil {
		return err
	}
	parent, err := childName(args[0])
	if err != nil {
		return err
	}
	req := &progressv1.ListAssessmentsRequest{Parent: parent, PageSize: int32(pageSize), Subject: subject, StartDate: from, EndDate: to}
	if kind != "" {
		k, err := parseEnum(kindEnum, "kind", kind)
		if err != nil {
			return err
		}
		req.Kind = progressv1.AssessmentKind(k)
	}
	if err := checkWindow(from, to); err != nil {
		return err
	}
	if err := checkPageSize(pageSize); err != nil {
		return err
	}
	c, err := cmd.connect()
	if err != nil {
		return err
	}
	defer c.close()
	all, err := listAll(ctx, func(ctx context.Context, token string) ([]*progressv1.Assessment, string, error) {
		req.PageToken = token
		resp, err := call(ctx, c, c.api.ListAssessments, req)
		return resp.GetAssessments(), resp.GetNextPageToken(), err
	})
	if err != nil {
		return err
	}
	return c.emit(&progressv1.ListAssessmentsResponse{Assessments: all}, func(w io.Writer) {
		if len(all) == 0 {
			fmt.Fprintln(w, "No assessments.")
			return
		}
		row(w, "DATE", "SUBJECT", "KIND", "TITLE", "SCORE", "PERCENT", "RECORDED BY", "ID")
		for _, a := range all {
			row(w, a.GetAssessedDate(), a.GetSubject(), enumWord(kindEnum, a.GetKind().Number()), a.GetTitle(),
				score(a.GetScore()), optional(a.Percent, percent), a.GetRecordedBy(), assessmentID(a.GetName()))
		}
	})
}

func milestonesAdd(ctx context.Context, cmd *cmdline, args []string) error {
	var title, date, category, description, reqID string
	cmd.local.StringVar(&title, "title", "", `what was achieved, for example "Read a chapter book alone"`)
	cmd.local.StringVar(&date, "date", "", "the day it was achieved, YYYY-MM-DD in the child's time zone")
	cmd.local.StringVar(&category, "category", "", "one of "+strings.Join(enumWords(categoryEnum), ", "))
	cmd.local.StringVar(&description, "description", "", "more about it")
	cmd.local.StringVar(&reqID, "request-id", "", "an id that makes sending this again safe (default: a random one)")
	args, err := cmd.parse(args)
	if err != nil {
		return err
	}
	if err := cmd.wantArgs(args, 1); err != nil {
		return err
	}
	parent, err := childName(args[0])
	if err != nil {
		return err
	}
	if err := required("title", title); err != nil {
		return err
	}
	if err := required("date", date); err != nil {
		return err
	}
	if err := checkDate("date", date); err != nil {
		return err
	}
	m := &progressv1.Milestone{Title: title, AchievedDate: date, Description: description}
	if category != "" {
		n, err := parseEnum(categoryEnum, "category", category)
		if err != nil {
			return err
		}
		m.Category = progressv1.MilestoneCategory(n)
	}
	id, err := requestID(reqID)
	if err != nil {
		return err
	}
	c, err := cmd.connect()
	if err != nil {
		return err
	}
	defer c.close()
	got, err := createOnce(ctx, c, c.api.CreateMilestone, &progressv1.CreateMilestoneRequest{Parent: parent, Milestone: m, RequestId: id}, id)
	if err != nil {
		return err
	}
	return c.emit(got, func(w io.Writer) {
		row(w, "Name", got.GetName())
		row(w, "Title", got.GetTitle())
		row(w, "Category", enumWord(categoryEnum, got.GetCategory().Number()))
		row(w, "Date", got.GetAchievedDate())
		row(w, "Description", got.GetDescription())
		row(w, "Recorded by", got.GetRecordedBy())
		row(w, "Recorded", when(got.GetCreateTime()))
		row(w, "Etag", got.GetEtag())
	})
}

func milestonesList(ctx context.Context, cmd *cmdline, args []string) error {
	var category, from, to string
	var pageSize int
	cmd.local.StringVar(&category, "category", "", "only this category: "+strings.Join(enumWords(categoryEnum), ", "))
	cmd.local.StringVar(&from, "from", "", "only on or after this day, YYYY-MM-DD")
	cmd.local.StringVar(&to, "to", "", "only on or before this day, YYYY-MM-DD")
	cmd.local.IntVar(&pageSize, "page-size", 1000, "how many to fetch per call, 1 to 1000")
	args, err := cmd.parse(args)
	if err != nil {
		return err
	}
	if err := cmd.wantArgs(args, 1); err != nil {
		return err
	}
	parent, err := childName(args[0])
	if err != nil {
		return err
	}
	req := &progressv1.ListMilestonesRequest{Parent: parent, PageSize: int32(pageSize), StartDate: from, EndDate: to}
	if category != "" {
		n, err := parseEnum(categoryEnum, "category", category)
		if err != nil {
			return err
		}
		req.Category = progressv1.MilestoneCategory(n)
	}
	if err := checkWindow(from, to); err != nil {
		return err
	}
	if err := checkPageSize(pageSize); err != nil {
		return err
	}
	c, err := cmd.connect()
	if err != nil {
		return err
	}
	defer c.close()
	all, err := listAll(ctx, func(ctx context.Context, token string) ([]*progressv1.Milestone, string, error) {
		req.PageToken = token
		resp, err := call(ctx, c, c.api.ListMilestones, req)
		return resp.GetMilestones(), resp.GetNextPageToken(), err
	})
	if err != nil {
		return err
	}
	return c.emit(&progressv1.ListMilestonesResponse{Milestones: all}, func(w io.Writer) {
		if len(all) == 0 {
			fmt.Fprintln(w, "No milestones.")
			return
		}
		milestoneRows(w, all)
	})
}

// milestoneRows is the milestone table of `milestones list` and `summary`.
func milestoneRows(w io.Writer, ms []*progressv1.Milestone) {
	row(w, "DATE", "CATEGORY", "TITLE", "RECORDED BY", "ID")
	for _, m := range ms {
		row(w, m.GetAchievedDate(), enumWord(categoryEnum, m.GetCategory().Number()), m.GetTitle(), m.GetRecordedBy(), milestoneID(m.GetName()))
	}
}

func summaryRun(ctx context.Context, cmd *cmdline, args []string) error {
	var from, to string
	cmd.local.StringVar(&from, "from", "", "the first day of the window, YYYY-MM-DD (default: from the beginning)")
	cmd.local.StringVar(&to, "to", "", "the last day of the window, YYYY-MM-DD (default: until now)")
	args, err := cmd.parse(args)
	if err != nil {
		return err
	}
	if err := cmd.wantArgs(args, 1); err != nil {
		return err
	}
	child, err := childName(args[0])
	if err != nil {
		return err
	}
	if err := checkWindow(from, to); err != nil {
		return err
	}
	c, err := cmd.connect()
	if err != nil {
		return err
	}
	defer c.close()
	s, err := call(ctx, c, c.api.GetProgressSummary, &progressv1.GetProgressSummaryRequest{Name: child + "/progressSummary", StartDate: from, EndDate: to})
	if err != nil {
		return err
	}
	return c.emit(s, func(w io.Writer) { summaryTable(w, child, s) })
}

// summaryTable shows a progress summary: a row per subject, one for all
// subjects together, then the milestones of the window.
func summaryTable(w io.Writer, child string, s *progressv1.ProgressSummary) {
	start, end := s.GetStartDate(), s.GetEndDate()
	if start == "" {
		start = "the beginning"
	}
	if end == "" {
		end = "now"
	}
	fmt.Fprintf(w, "Progress of %s from %s to %s\n\n", child, start, end)
	if len(s.GetSubjects()) == 0 {
		fmt.Fprintln(w, "No assessments in this window.")
	} else {
		row(w, "SUBJECT", "COUNT", "SCORED", "LATEST %", "MEAN %", "TREND (PTS/30D)")
		subjectRow := func(name string, ss *progressv1.SubjectSummary) {
			row(w, name, fmt.Sprint(ss.GetAssessmentCount()), fmt.Sprint(ss.GetScoredCount()),
				optional(ss.LatestPercent, number), optional(ss.MeanPercent, number), optional(ss.Trend, signed))
		}
		for _, ss := range s.GetSubjects() {
			subjectRow(ss.GetSubject(), ss)
		}
		// Parenthesized so it cannot be mistaken for a subject of that name.
		subjectRow("(all subjects)", s.GetOverall())
	}
	fmt.Fprintln(w)
	if len(s.GetMilestones()) == 0 {
		fmt.Fprintln(w, "No milestones achieved in this window.")
		return
	}
	fmt.Fprintf(w, "Milestones achieved (%d):\n", len(s.GetMilestones()))
	milestoneRows(w, s.GetMilestones())
}

// score shows how an assessment was scored: 18/20, B+, or "-".
func score(s *progressv1.Score) string {
	switch v := s.GetValue().(type) {
	case *progressv1.Score_Points:
		// Exactly as recorded: rounding 18.125 points would misquote the teacher.
		return exact(v.Points.GetEarned()) + "/" + exact(v.Points.GetPossible())
	case *progressv1.Score_LetterGrade:
		return v.LetterGrade
	}
	return ""
}

func exact(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// percent shows a percentage with its unit.
func percent(v float64) string { return number(v) + "%" }

// assessmentID and milestoneID are the ids a table shows for records the
// service named; a name that does not parse is shown whole, not cut.
func assessmentID(name string) string {
	if n, err := names.ParseAssessment(name); err == nil {
		return n.ID
	}
	return name
}

func milestoneID(name string) string {
	if n, err := names.ParseMilestone(name); err == nil {
		return n.ID
	}
	return name
}
