package progress

import (
	"context"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
	"github.com/kinbridge/kinbridge/pkg/names"
	"github.com/kinbridge/kinbridge/pkg/validate"
	"github.com/kinbridge/kinbridge/services/progress/store"
	"github.com/kinbridge/kinbridge/services/progress/summary"
)

// summaryCache keeps computed summaries. An entry is valid while the
// child's progress revision is the one it was computed at; every write to
// a child's records raises that revision in the same transaction, on any
// instance, so a stale summary is never served.
type summaryCache struct {
	mu      sync.Mutex
	entries map[summaryKey]cachedSummary
	max     int
}

type summaryKey struct{ child, start, end string }

type cachedSummary struct {
	revision int64
	summary  *progressv1.ProgressSummary
}

func newSummaryCache(max int) *summaryCache {
	return &summaryCache{entries: map[summaryKey]cachedSummary{}, max: max}
}

func (c *summaryCache) get(k summaryKey, revision int64) (*progressv1.ProgressSummary, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if !ok || e.revision != revision {
		return nil, false
	}
	return proto.CloneOf(e.summary), true
}

func (c *summaryCache) put(k summaryKey, revision int64, s *progressv1.ProgressSummary) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		clear(c.entries) // simple and bounded; summaries are cheap to recompute
	}
	c.entries[k] = cachedSummary{revision: revision, summary: proto.CloneOf(s)}
}

// GetProgressSummary computes (or serves from cache) the summary defined
// in the contract.
func (s *server) GetProgressSummary(ctx context.Context, req *progressv1.GetProgressSummaryRequest) (*progressv1.ProgressSummary, error) {
	sn, err := validate.Name("name", req.GetName(), names.ParseProgressSummary)
	if err != nil {
		return nil, err
	}
	childID := sn.Child
	if err := checkRange(req.GetStartDate(), req.GetEndDate()); err != nil {
		return nil, err
	}
	if _, err := s.authorizeChild(ctx, childID, store.RoleGuardian); err != nil {
		return nil, err
	}
	// Read the revision before the records: the summary is then at least
	// as new as the revision it is cached under.
	revision, err := s.store.ProgressRevision(ctx, childID)
	if err != nil {
		return nil, storeError(err, "child")
	}
	key := summaryKey{childID, req.GetStartDate(), req.GetEndDate()}
	if cached, ok := s.summaries.get(key, revision); ok {
		return cached, nil
	}
	out, err := s.computeSummary(ctx, childID, req.GetStartDate(), req.GetEndDate())
	if err != nil {
		return nil, err
	}
	s.summaries.put(key, revision, out)
	return out, nil
}

func (s *server) computeSummary(ctx context.Context, childID, start, end string) (*progressv1.ProgressSummary, error) {
	scale, _, _, err := s.scale(ctx, childID)
	if err != nil {
		return nil, err
	}
	assessments, err := s.store.ListAssessments(ctx, store.AssessmentQuery{ChildID: childID, StartDate: start, EndDate: end, State: store.Published})
	if err != nil {
		return nil, storeError(err, "assessments")
	}
	milestones, err := s.store.ListMilestones(ctx, store.MilestoneQuery{ChildID: childID, StartDate: start, EndDate: end, State: store.Published})
	if err != nil {
		return nil, storeError(err, "milestones")
	}
	entries := make([]summary.Entry, 0, len(assessments))
	for _, a := range assessments {
		day, err := time.Parse(time.DateOnly, a.AssessedDate)
		if err != nil {
			continue // dates are validated on the way in; a bad one cannot be placed in time
		}
		entries = append(entries, summary.Entry{Subject: a.Subject, Date: day, Percent: percent(a, scale), Recorded: a.CreateTime})
	}
	subjects, overall := summary.Summarize(entries)
	out := &progressv1.ProgressSummary{
		Name:      names.ProgressSummary{Child: childID}.String(),
		StartDate: start,
		EndDate:   end,
		Overall:   statsToProto(overall),
	}
	for _, st := range subjects {
		out.Subjects = append(out.Subjects, statsToProto(st))
	}
	for _, m := range milestones {
		out.Milestones = append(out.Milestones, milestoneToProto(m))
	}
	return out, nil
}

func statsToProto(st summary.Stats) *progressv1.SubjectSummary {
	return &progressv1.SubjectSummary{
		Subject:         st.Subject,
		AssessmentCount: int32(st.Count),
		ScoredCount:     int32(st.ScoredCount),
		LatestPercent:   st.Latest,
		MeanPercent:     st.Mean,
		Trend:           st.Trend,
	}
}
