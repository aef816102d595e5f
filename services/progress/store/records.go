package store

import (
	"context"
	"time"

	"github.com/kinbridge/kinbridge/pkg/outbox"
	"github.com/kinbridge/kinbridge/services/progress/summary"
)

// ScoreKind says how an assessment was scored.
type ScoreKind int

// Score kinds.
const (
	Unscored ScoreKind = iota
	ScoredPoints
	ScoredLetter
)

// Score is points out of a maximum or a letter grade.
type Score struct {
	Kind     ScoreKind
	Earned   float64
	Possible float64
	Letter   string
}

// Assessment is one recorded piece of school work.
type Assessment struct {
	ChildID        string
	ID             string
	Subject        string
	Title          string
	Kind           int // the contract's AssessmentKind
	Score          Score
	AssessedDate   string // YYYY-MM-DD: sorts as it reads
	TeacherComment string
	RecordedBy     string
	RequestID      string // empty when the creator gave none
	CreateTime     time.Time
	UpdateTime     time.Time
	Revision       int64
	Approval       // a draft until approved, when the child requires it
}

// Milestone is something a child achieved.
type Milestone struct {
	ChildID      string
	ID           string
	Title        string
	Description  string
	Category     int // the contract's MilestoneCategory
	AchievedDate string
	RecordedBy   string
	RequestID    string
	CreateTime   time.Time
	UpdateTime   time.Time
	Revision     int64
	Approval     // a draft until approved, when the child requires it
}

// DateCursor is the position after the last row of a page of dated rows,
// listed by (date, id): rows recorded meanwhile never shift a page.
type DateCursor struct {
	Date string
	ID   string
}

// AssessmentQuery selects a child's assessments.
type AssessmentQuery struct {
	ChildID   string
	Subject   string       // exact; empty for all
	Kind      int          // 0 for all
	StartDate string       // inclusive; empty for no bound
	EndDate   string       // inclusive; empty for no bound
	State     PublishState // 0 for all
	After     *DateCursor
	Limit     int // 0 for all
}

// MilestoneQuery selects a child's milestones.
type MilestoneQuery struct {
	ChildID   string
	Category  int
	StartDate string
	EndDate   string
	State     PublishState // 0 for all
	After     *DateCursor
	Limit     int
}

// Grade is a letter and the percentage it stands for.
type Grade = summary.Grade

// GradingScale is a child's own scale.
type GradingScale struct {
	Grades     []Grade
	UpdateTime time.Time
	Revision   int64
}

// Records is the part of the Store that keeps what is recorded about a
// child. Every write raises the child's progress revision in the same
// transaction.
type Records interface {
	// CreateAssessment stores a new assessment. When one with the same
	// RequestID exists for the child, it returns that one and created=false.
	CreateAssessment(ctx context.Context, a Assessment, events ...outbox.Message) (_ Assessment, created bool, _ error)
	GetAssessment(ctx context.Context, childID, id string) (Assessment, error)
	ListAssessments(ctx context.Context, q AssessmentQuery) ([]Assessment, error)
	// UpdateAssessment applies change to the assessment and stores it,
	// with the events announce (when not nil) makes of it before and
	// after. change may turn it back into a draft and set its EditedBy;
	// the rest of its Approval is the approval's alone.
	UpdateAssessment(ctx context.Context, childID, id string, expectRevision int64, change func(*Assessment) error,
		announce func(before, after Assessment) []outbox.Message) (Assessment, error)
	DeleteAssessment(ctx context.Context, childID, id string, expectRevision int64) error

	CreateMilestone(ctx context.Context, m Milestone, events ...outbox.Message) (_ Milestone, created bool, _ error)
	GetMilestone(ctx context.Context, childID, id string) (Milestone, error)
	ListMilestones(ctx context.Context, q MilestoneQuery) ([]Milestone, error)
	// UpdateMilestone is UpdateAssessment for a milestone.
	UpdateMilestone(ctx context.Context, childID, id string, expectRevision int64, change func(*Milestone) error,
		announce func(before, after Milestone) []outbox.Message) (Milestone, error)
	DeleteMilestone(ctx context.Context, childID, id string, expectRevision int64) error

	// GradingScale returns the child's own scale; found is false while the
	// child uses the default.
	GradingScale(ctx context.Context, childID string) (_ GradingScale, found bool, _ error)
	// SetGradingScale replaces the child's scale; expectRevision 0 means any.
	SetGradingScale(ctx context.Context, childID string, grades []Grade, expectRevision int64) (GradingScale, error)

	// ProgressRevision is a number that changes whenever anything recorded
	// for the child changes: the key of a cached summary.
	ProgressRevision(ctx context.Context, childID string) (int64, error)
}
