package media

import (
	"context"
	"slices"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	discussionv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/discussion/v1"
	mediav1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/v1"
	notificationpeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/peer/v1"
	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
	"github.com/kinbridge/kinbridge/pkg/outbox"
	"github.com/kinbridge/kinbridge/pkg/testenv"
	"github.com/kinbridge/kinbridge/services/media/store"
)

// The roles of the approval tests: carol and dan contribute, gina is a
// guardian; the child requires approval when asked to.
func approvalAccess(requireApproval bool) fakeAccess {
	return fakeAccess{
		roles:    map[string]map[string]string{child: {"carol": "contributor", "dan": "contributor", "gina": "guardian"}},
		approval: map[string]bool{child: requireApproval},
	}
}

// newApprovalEnv is newEnv without a publisher, so that events stay in the
// outbox for outboxEvents to read.
func newApprovalEnv(t *testing.T, requireApproval bool) *env {
	t.Helper()
	return newEnv(t, sqliteLocal, func(c *Config) { c.Access = approvalAccess(requireApproval) })
}

// outboxEvents returns every event in the outbox, oldest first.
func (e *env) outboxEvents(t *testing.T) []*notificationpeerv1.Event {
	t.Helper()
	rows, err := e.svc.db.QueryContext(t.Context(), `SELECT payload FROM outbox_messages ORDER BY create_us, seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []*notificationpeerv1.Event
	for rows.Next() {
		var payload []byte
		if err := rows.Scan(&payload); err != nil {
			t.Fatal(err)
		}
		ev := &notificationpeerv1.Event{}
		if err := proto.Unmarshal(payload, ev); err != nil {
			t.Fatal(err)
		}
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

type wantEvent struct {
	typ      notificationv1.EventType
	actor    string
	audience notificationpeerv1.Audience
}

func (e *env) wantOutbox(t *testing.T, link string, want ...wantEvent) {
	t.Helper()
	got := e.outboxEvents(t)
	if len(got) != len(want) {
		t.Fatalf("outbox %v, want %v", got, want)
	}
	for i, w := range want {
		g := got[i]
		if g.GetType() != w.typ || g.GetActor() != w.actor || g.GetAudience() != w.audience || g.GetLink() != link || g.GetChild() != child {
			t.Errorf("event %d = %v, want %+v about %s", i, g, w, link)
		}
	}
}

// uploadPhoto uploads a small photo as user and waits until it is processed.
func (e *env) uploadPhoto(t *testing.T, user string) *mediav1.MediaItem {
	t.Helper()
	ctx := e.as(t, user)
	data := readFile(t, "ingest/testdata/plain.jpg")
	it, err := e.upload(ctx, &mediav1.UploadMetadata{Parent: child, Title: "Sports day", SizeBytes: int64(len(data))}, data, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return e.waitState(t, ctx, it.GetName(), mediav1.MediaState_MEDIA_STATE_READY)
}

const (
	draftState     = progressv1.PublishState_PUBLISH_STATE_DRAFT
	publishedState = progressv1.PublishState_PUBLISH_STATE_PUBLISHED
)

var (
	mediaReady        = notificationv1.EventType_EVENT_TYPE_MEDIA_READY
	approvalRequested = notificationv1.EventType_EVENT_TYPE_APPROVAL_REQUESTED
	everyone          = notificationpeerv1.Audience_AUDIENCE_UNSPECIFIED
	contributors      = notificationpeerv1.Audience_AUDIENCE_CONTRIBUTORS
)

// TestApprovalUploads: who uploads a draft, and whom the end of processing
// tells.
func TestApprovalUploads(t *testing.T) {
	for _, tt := range []struct {
		name      string
		require   bool
		user      string
		wantState progressv1.PublishState
		wantEvent wantEvent
	}{
		{"a contributor's for a child that requires approval is a draft", true, "carol", draftState,
			wantEvent{approvalRequested, "carol", contributors}},
		{"an administrator's is published at once", true, "root", publishedState, wantEvent{mediaReady, "root", everyone}},
		{"a contributor's for another child is published at once", false, "carol", publishedState, wantEvent{mediaReady, "carol", everyone}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newApprovalEnv(t, tt.require)
			var it *mediav1.MediaItem
			if tt.user == "root" {
				it = e.uploadPhotoAsAdmin(t)
			} else {
				it = e.uploadPhoto(t, tt.user)
			}
			if it.GetPublishState() != tt.wantState || it.GetApprovedBy() != "" || it.GetApproveTime() != nil {
				t.Fatalf("uploaded %v, want publish state %v", it, tt.wantState)
			}
			e.wantOutbox(t, it.GetName(), tt.wantEvent)
		})
	}
}

// uploadPhotoAsAdmin is uploadPhoto for administrator root.
func (e *env) uploadPhotoAsAdmin(t *testing.T) *mediav1.MediaItem {
	t.Helper()
	ctx := e.asAdmin(t, "root")
	data := readFile(t, "ingest/testdata/plain.jpg")
	it, err := e.upload(ctx, &mediav1.UploadMetadata{Parent: child, Title: "Sports day", SizeBytes: int64(len(data))}, data, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return e.waitState(t, ctx, it.GetName(), mediav1.MediaState_MEDIA_STATE_READY)
}

// asAdmin is as for an administrator.
func (e *env) asAdmin(t *testing.T, user string) context.Context {
	t.Helper()
	tok, err := e.issuer.Issue(user, true, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
}

// TestApprovalHidesDrafts: guardians cannot list, get or read a draft or
// its thumbnails, ranged or not (NOT_FOUND, as an item that does not
// exist); contributors see it as a draft and may filter by it.
func TestApprovalHidesDrafts(t *testing.T) {
	e := newApprovalEnv(t, true)
	d := e.uploadPhoto(t, "carol")
	gina, dan := e.as(t, "gina"), e.as(t, "dan")

	if _, err := e.client.GetMediaItem(gina, &mediav1.GetMediaItemRequest{Name: d.GetName()}); status.Code(err) != codes.NotFound {
		t.Errorf("a guardian gets the draft: %v", err)
	}
	// Nor its conversation.
	comment := &mediav1.CreateMediaCommentRequest{Parent: d.GetName(), Comment: &discussionv1.Comment{Text: "Lovely"}}
	if _, err := e.client.CreateMediaComment(gina, comment); status.Code(err) != codes.NotFound {
		t.Errorf("a guardian comments on the draft: %v", err)
	}
	if _, err := e.client.CreateMediaComment(dan, comment); err != nil {
		t.Errorf("a contributor comments on the draft: %v", err)
	}
	for _, read := range []struct {
		thumb          string
		offset, length int64
	}{{"", 0, 0}, {"", 10, 20}, {"small", 0, 0}, {"large", 0, 0}} {
		if _, _, err := e.readAll(gina, d.GetName(), read.thumb, read.offset, read.length); status.Code(err) != codes.NotFound {
			t.Errorf("a guardian reads %+v of the draft: %v", read, err)
		}
		if _, data, err := e.readAll(dan, d.GetName(), read.thumb, read.offset, read.length); err != nil || len(data) == 0 {
			t.Errorf("a contributor reads %+v of the draft: %d bytes, %v", read, len(data), err)
		}
	}
	list := func(ctx context.Context, state progressv1.PublishState) []string {
		t.Helper()
		resp, err := e.client.ListMediaItems(ctx, &mediav1.ListMediaItemsRequest{Parent: child, PublishState: state})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, it := range resp.GetMediaItems() {
			if it.GetName() == d.GetName() && it.GetPublishState() != draftState {
				t.Errorf("listed %v, want a draft", it)
			}
			out = append(out, it.GetName())
		}
		return out
	}
	for _, state := range []progressv1.PublishState{0, draftState, publishedState} {
		if got := list(gina, state); len(got) != 0 {
			t.Errorf("a guardian lists %v: %v", state, got)
		}
	}
	if got := list(dan, 0); len(got) != 1 {
		t.Errorf("a contributor lists %v", got)
	}
	if got := list(dan, draftState); len(got) != 1 {
		t.Errorf("a contributor lists drafts: %v", got)
	}
	if got := list(dan, publishedState); len(got) != 0 {
		t.Errorf("a contributor lists published: %v", got)
	}
	if got, err := e.client.GetMediaItem(e.asAdmin(t, "root"), &mediav1.GetMediaItemRequest{Name: d.GetName()}); err != nil || got.GetPublishState() != draftState {
		t.Errorf("an administrator gets %v, %v", got, err)
	}
}

// TestApprovalApproves: who may approve, and what an approval publishes
// and tells.
func TestApprovalApproves(t *testing.T) {
	e := newApprovalEnv(t, true)
	d := e.uploadPhoto(t, "carol")
	for _, tt := range []struct {
		who  string
		ctx  context.Context
		etag string
		name string
		want codes.Code
	}{
		{"the uploader", e.as(t, "carol"), d.GetEtag(), d.GetName(), codes.PermissionDenied},
		{"a guardian", e.as(t, "gina"), d.GetEtag(), d.GetName(), codes.PermissionDenied},
		{"a stranger", e.as(t, "olga"), d.GetEtag(), d.GetName(), codes.NotFound},
		{"a stale etag", e.as(t, "dan"), "v99", d.GetName(), codes.Aborted},
		{"a missing item", e.as(t, "dan"), d.GetEtag(), child + "/media/nope", codes.NotFound},
		{"no etag", e.as(t, "dan"), "", d.GetName(), codes.InvalidArgument},
		{"no etag, an administrator", e.asAdmin(t, "root"), "", d.GetName(), codes.InvalidArgument},
	} {
		_, err := e.client.ApproveMediaItem(tt.ctx, &mediav1.ApproveMediaItemRequest{Name: tt.name, Etag: tt.etag})
		if status.Code(err) != tt.want {
			t.Errorf("%s: %v, want %v", tt.who, err, tt.want)
		}
	}
	e.wantOutbox(t, d.GetName(), wantEvent{approvalRequested, "carol", contributors})

	got, err := e.client.ApproveMediaItem(e.as(t, "dan"), &mediav1.ApproveMediaItemRequest{Name: d.GetName(), Etag: d.GetEtag()})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetPublishState() != publishedState || got.GetApprovedBy() != "dan" || got.GetApproveTime() == nil || got.GetUploadedBy() != "carol" {
		t.Fatalf("approved %v", got)
	}
	// MEDIA_READY for the guardians, naming the uploader, in the approval's transaction.
	e.wantOutbox(t, d.GetName(), wantEvent{approvalRequested, "carol", contributors}, wantEvent{mediaReady, "carol", everyone})

	gina := e.as(t, "gina")
	if it, err := e.client.GetMediaItem(gina, &mediav1.GetMediaItemRequest{Name: d.GetName()}); err != nil || !proto.Equal(it, got) {
		t.Errorf("the guardian gets %v, %v; want %v", it, err, got)
	}
	if _, data, err := e.readAll(gina, d.GetName(), "small", 0, 0); err != nil || len(data) == 0 {
		t.Errorf("the guardian reads the thumbnail: %d bytes, %v", len(data), err)
	}
	if resp, err := e.client.ListMediaItems(gina, &mediav1.ListMediaItemsRequest{Parent: child}); err != nil || len(resp.GetMediaItems()) != 1 {
		t.Errorf("the guardian lists %v, %v", resp, err)
	}

	_, err = e.client.ApproveMediaItem(e.asAdmin(t, "root"), &mediav1.ApproveMediaItemRequest{Name: d.GetName(), Etag: got.GetEtag()})
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("approving again: %v", err)
	}
	var named bool
	for _, det := range status.Convert(err).Details() {
		if pf, ok := det.(*errdetails.PreconditionFailure); ok && len(pf.GetViolations()) == 1 && pf.GetViolations()[0].GetSubject() == d.GetName() {
			named = true
		}
	}
	if !named {
		t.Errorf("approving again: %v names no PreconditionFailure", err)
	}
	if n := len(e.outboxEvents(t)); n != 2 {
		t.Errorf("%d events after a refused approval, want 2", n)
	}
}

// TestApprovalByAdministrator: an administrator approves any draft, and an
// update never publishes one.
func TestApprovalByAdministrator(t *testing.T) {
	e := newApprovalEnv(t, true)
	d := e.uploadPhoto(t, "carol")
	up, err := e.client.UpdateMediaItem(e.as(t, "dan"), &mediav1.UpdateMediaItemRequest{
		MediaItem:  &mediav1.MediaItem{Name: d.GetName(), Title: "Renamed", PublishState: publishedState},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}}})
	if err != nil || up.GetPublishState() != draftState {
		t.Fatalf("update = %v, %v; want still a draft", up, err)
	}
	// dan rewrote carol's draft: neither approves it.
	for _, user := range []string{"dan", "carol"} {
		_, err := e.client.ApproveMediaItem(e.as(t, user), &mediav1.ApproveMediaItemRequest{Name: d.GetName(), Etag: up.GetEtag()})
		if status.Code(err) != codes.PermissionDenied {
			t.Errorf("%s approves dan's edit: %v, want PERMISSION_DENIED", user, err)
		}
	}
	got, err := e.client.ApproveMediaItem(e.asAdmin(t, "root"), &mediav1.ApproveMediaItemRequest{Name: d.GetName(), Etag: up.GetEtag()})
	if err != nil || got.GetPublishState() != publishedState || got.GetApprovedBy() != "root" || got.GetTitle() != "Renamed" {
		t.Fatalf("approved %v, %v", got, err)
	}
}

// TestApprovalNeedsEtag: an approval without the etag of what it approves
// is INVALID_ARGUMENT on etag, and publishes nothing.
func TestApprovalNeedsEtag(t *testing.T) {
	e := newApprovalEnv(t, true)
	d := e.uploadPhoto(t, "carol")
	_, err := e.client.ApproveMediaItem(e.as(t, "dan"), &mediav1.ApproveMediaItemRequest{Name: d.GetName()})
	onEtag := slices.Equal(testenv.FieldViolations(err), []string{"etag"})
	if status.Code(err) != codes.InvalidArgument || !onEtag {
		t.Fatalf("approving without an etag: %v, want INVALID_ARGUMENT on etag", err)
	}
	if _, err := e.client.GetMediaItem(e.as(t, "gina"), &mediav1.GetMediaItemRequest{Name: d.GetName()}); status.Code(err) != codes.NotFound {
		t.Fatalf("the guardian gets the draft: %v", err)
	}
}

// TestApprovalEdits: a contributor's edit of a published item makes it a
// draft again, hidden from the guardians until someone other than its
// writers approves it; an administrator's edit keeps it published.
func TestApprovalEdits(t *testing.T) {
	e := newApprovalEnv(t, true)
	d := e.uploadPhoto(t, "carol")
	it, err := e.client.ApproveMediaItem(e.as(t, "dan"), &mediav1.ApproveMediaItemRequest{Name: d.GetName(), Etag: d.GetEtag()})
	if err != nil {
		t.Fatal(err)
	}
	gina := e.as(t, "gina")
	seen := func(wantTitle string) {
		t.Helper()
		got, err := e.client.GetMediaItem(gina, &mediav1.GetMediaItemRequest{Name: d.GetName()})
		list, lerr := e.client.ListMediaItems(gina, &mediav1.ListMediaItemsRequest{Parent: child})
		if wantTitle == "" {
			if status.Code(err) != codes.NotFound || lerr != nil || len(list.GetMediaItems()) != 0 {
				t.Fatalf("the guardian gets %v, %v and lists %v, %v; want nothing", got, err, list, lerr)
			}
			if _, _, err := e.readAll(gina, d.GetName(), "small", 0, 0); status.Code(err) != codes.NotFound {
				t.Fatalf("the guardian reads the thumbnail: %v, want NOT_FOUND", err)
			}
			return
		}
		if err != nil || got.GetTitle() != wantTitle || got.GetPublishState() != publishedState {
			t.Fatalf("the guardian gets %v, %v; want %q published", got, err, wantTitle)
		}
	}
	edit := func(ctx context.Context, etag, caption string) *mediav1.MediaItem {
		t.Helper()
		up, err := e.client.UpdateMediaItem(ctx, &mediav1.UpdateMediaItemRequest{
			MediaItem:  &mediav1.MediaItem{Name: d.GetName(), Etag: etag, Title: caption},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}}})
		if err != nil {
			t.Fatal(err)
		}
		return up
	}
	approve := func(ctx context.Context, etag string) (*mediav1.MediaItem, error) {
		return e.client.ApproveMediaItem(ctx, &mediav1.ApproveMediaItemRequest{Name: d.GetName(), Etag: etag})
	}
	seen("Sports day")
	before := len(e.outboxEvents(t))

	// The uploader's edit of what was approved.
	it = edit(e.as(t, "carol"), it.GetEtag(), "Sports day, rewritten")
	if it.GetPublishState() != draftState || it.GetApprovedBy() != "" || it.GetApproveTime() != nil {
		t.Fatalf("carol's edit: %v; want a draft without approval", it)
	}
	seen("")
	if evs := e.outboxEvents(t)[before:]; len(evs) != 1 || evs[0].GetType() != approvalRequested || evs[0].GetActor() != "carol" ||
		evs[0].GetAudience() != contributors {
		t.Fatalf("events of carol's edit: %v, want APPROVAL_REQUESTED to the contributors", evs)
	}
	if _, err := approve(e.as(t, "carol"), it.GetEtag()); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("carol approves her edit: %v, want PERMISSION_DENIED", err)
	}
	if it, err = approve(e.as(t, "dan"), it.GetEtag()); err != nil {
		t.Fatal(err)
	}
	seen("Sports day, rewritten")

	// Another contributor's edit: neither they nor the uploader approve it.
	it = edit(e.as(t, "dan"), it.GetEtag(), "Sports day, by dan")
	if it.GetPublishState() != draftState {
		t.Fatalf("dan's edit: %v; want a draft", it)
	}
	seen("")
	for _, user := range []string{"dan", "carol"} {
		if _, err := approve(e.as(t, user), it.GetEtag()); status.Code(err) != codes.PermissionDenied {
			t.Fatalf("%s approves dan's edit: %v, want PERMISSION_DENIED", user, err)
		}
	}
	if it, err = approve(e.asAdmin(t, "root"), it.GetEtag()); err != nil {
		t.Fatal(err)
	}
	seen("Sports day, by dan")

	// An administrator's edit stays published.
	it = edit(e.asAdmin(t, "root"), it.GetEtag(), "Sports day, by root")
	if it.GetPublishState() != publishedState || it.GetApprovedBy() != "root" {
		t.Fatalf("root's edit: %v; want it published still", it)
	}
	seen("Sports day, by root")
}

// TestApprovalEvents: what ends processing and what approves announce,
// whichever comes first.
func TestApprovalEvents(t *testing.T) {
	it := store.Item{ChildID: "kid1", ID: "m1", Kind: store.KindPhoto, UploadedBy: "carol"}
	for _, tt := range []struct {
		name      string
		state     store.State
		publish   store.PublishState
		processed []notificationv1.EventType // at the end of processing
		approved  []notificationv1.EventType // at approval
	}{
		{"ready draft", store.StateReady, store.Draft, []notificationv1.EventType{approvalRequested}, nil},
		{"ready published", store.StateReady, store.Published, []notificationv1.EventType{mediaReady}, []notificationv1.EventType{mediaReady}},
		{"processing, approved", store.StateProcessing, store.Published, nil, nil},
		{"failed draft", store.StateFailed, store.Draft, nil, nil},
		{"failed, approved", store.StateFailed, store.Published, nil, nil},
	} {
		it.State, it.PublishState = tt.state, tt.publish
		types := func(ms []outbox.Message) []notificationv1.EventType {
			var out []notificationv1.EventType
			for _, m := range ms {
				ev := &notificationpeerv1.Event{}
				if err := proto.Unmarshal(m.Payload, ev); err != nil {
					t.Fatal(err)
				}
				out = append(out, ev.GetType())
			}
			return out
		}
		if got := types(processedEvents(it)); !equalTypes(got, tt.processed) {
			t.Errorf("%s: processing announces %v, want %v", tt.name, got, tt.processed)
		}
		if tt.publish == store.Published {
			if got := types(approvedEvents(it)); !equalTypes(got, tt.approved) {
				t.Errorf("%s: approval announces %v, want %v", tt.name, got, tt.approved)
			}
		}
	}
}

func equalTypes(a, b []notificationv1.EventType) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
