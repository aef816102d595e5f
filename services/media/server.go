package media

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	mediav1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/v1"
	notificationpeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/peer/v1"
	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
	progresspeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/peer/v1"
	"github.com/kinbridge/kinbridge/pkg/auth"
	"github.com/kinbridge/kinbridge/pkg/events"
	"github.com/kinbridge/kinbridge/pkg/outbox"
	"github.com/kinbridge/kinbridge/pkg/pagetoken"
	"github.com/kinbridge/kinbridge/pkg/validate"
	"github.com/kinbridge/kinbridge/services/media/blob"
	"github.com/kinbridge/kinbridge/services/media/store"
)

// errorDomain is the ErrorInfo domain of the service's refusals.
const errorDomain = "media.kinbridge"

// ErrorInfo reasons clients can act on.
const (
	ReasonTooLarge         = "TOO_LARGE"
	ReasonUnsupportedType  = "UNSUPPORTED_TYPE"
	ReasonChecksumMismatch = "CHECKSUM_MISMATCH"
	ReasonMalformed        = "MALFORMED"
	ReasonKindMismatch     = "KIND_MISMATCH"
	ReasonIncomplete       = "INCOMPLETE"
	ReasonOffsetMismatch   = "OFFSET_MISMATCH"
	ReasonFinished         = "FINISHED"
	// ReasonTooManyUploads refuses an upload to a user who has
	// Config.Caps.Sessions under way already.
	ReasonTooManyUploads = "TOO_MANY_UPLOADS"
	// ReasonUploadQuota refuses an upload whose size would bring the
	// bytes the user has declared and not yet sent over Config.Caps.Bytes.
	ReasonUploadQuota = "UPLOAD_QUOTA"
)

// readChunk is the size of the chunks ReadMediaContent sends.
const readChunk = 256 << 10

// server implements the public MediaService.
type server struct {
	mediav1.UnimplementedMediaServiceServer
	svc *Service
	// busy holds the sessions being written or finished in this process:
	// two writers appending to one temporary file would corrupt bytes the
	// other already committed.
	busy sync.Map
	// uploadReads counts the bytes read from upload files, rehashedBytes
	// those read again to hash them (a session resumed without its saved
	// running hash): see countedReads.
	uploadReads, rehashedBytes atomic.Int64
}

// refusal builds a status with an ErrorInfo naming reason.
func refusal(code codes.Code, reason, msg string, meta map[string]string) error {
	st := status.New(code, msg)
	if d, err := st.WithDetails(&errdetails.ErrorInfo{Reason: reason, Domain: errorDomain, Metadata: meta}); err == nil {
		st = d
	}
	return st.Err()
}

// storeError maps store and blob errors to statuses; what names the resource.
func storeError(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound), errors.Is(err, blob.ErrNotFound):
		return status.Errorf(codes.NotFound, "%s not found", what)
	case errors.Is(err, store.ErrAlreadyExists):
		return status.Errorf(codes.AlreadyExists, "%s already exists", what)
	case errors.Is(err, store.ErrStale):
		return status.Errorf(codes.Aborted, "%s was changed by someone else since the etag was read; read it again and retry", what)
	case errors.Is(err, store.ErrChildDeleted):
		return status.Error(codes.NotFound, "the child was deleted")
	case errors.Is(err, store.ErrBlobCondemned):
		return status.Error(codes.Unavailable, "the stored bytes are being cleaned up; retry shortly")
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "request canceled")
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "deadline exceeded")
	}
	var st interface{ GRPCStatus() *status.Status }
	if errors.As(err, &st) {
		return err
	}
	return status.Error(codes.Internal, "storage error")
}

// internal logs err and returns an INTERNAL status that does not leak it.
func (s *server) internal(ctx context.Context, what string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return storeError(err, what)
	}
	s.svc.cfg.Logger.ErrorContext(ctx, "media: "+what, "err", err)
	return status.Errorf(codes.Internal, "%s failed", what)
}

// Resource names. Their shape is checked by the contract's constraints
// (the validation interceptor); these only split them.

func childName(id string) string          { return "children/" + id }
func itemName(child, id string) string    { return "children/" + child + "/media/" + id }
func sessionName(child, id string) string { return "children/" + child + "/uploadSessions/" + id }

func parseChildName(field, name string) (string, error) {
	id, ok := strings.CutPrefix(name, "children/")
	if !ok || id == "" || strings.Contains(id, "/") {
		return "", validate.InvalidArgument(validate.Field{Path: field, Description: "must look like children/{child}"})
	}
	return id, nil
}

// parseName splits "children/{child}/{collection}/{id}".
func parseName(field, name, collection string) (child, id string, err error) {
	parts := strings.Split(name, "/")
	if len(parts) != 4 || parts[0] != "children" || parts[2] != collection || parts[1] == "" || parts[3] == "" {
		return "", "", validate.InvalidArgument(validate.Field{Path: field, Description: "must look like children/{child}/" + collection + "/{id}"})
	}
	return parts[1], parts[3], nil
}

// newID returns a random id of 26 lowercase base32 characters.
func newID() string { return strings.ToLower(rand.Text()) }

func etag(revision int64) string { return "v" + strconv.FormatInt(revision, 10) }

func parseEtag(field, e string) (int64, error) {
	if e == "" {
		return 0, nil
	}
	rev, err := strconv.ParseInt(strings.TrimPrefix(e, "v"), 10, 64)
	if err != nil || rev <= 0 || !strings.HasPrefix(e, "v") {
		return 0, validate.InvalidArgument(validate.Field{Path: field, Description: "is not an etag this service issued"})
	}
	return rev, nil
}

// caller returns the authenticated user; the auth interceptor guarantees one.
func caller(ctx context.Context) (auth.Principal, error) {
	p, ok := auth.FromContext(ctx)
	if !ok {
		return auth.Principal{}, status.Error(codes.Unauthenticated, "missing bearer token")
	}
	return p, nil
}

// authorize asks the checker whether the caller may do perm on the child.
func (s *server) authorize(ctx context.Context, childID string, perm progresspeerv1.Permission) (auth.Principal, error) {
	p, err := caller(ctx)
	if err != nil {
		return p, err
	}
	return p, s.svc.cfg.Access.Check(ctx, p, childName(childID), perm)
}

const (
	view       = progresspeerv1.Permission_PERMISSION_VIEW
	contribute = progresspeerv1.Permission_PERMISSION_CONTRIBUTE
)

func itemToProto(it store.Item) *mediav1.MediaItem {
	out := &mediav1.MediaItem{
		Name:           itemName(it.ChildID, it.ID),
		Kind:           mediav1.MediaKind(it.Kind),
		Title:          it.Title,
		Caption:        it.Caption,
		ContentType:    it.ContentType,
		SizeBytes:      it.SizeBytes,
		OriginalSha256: it.OriginalSHA256,
		ContentSha256:  it.ContentSHA256,
		Width:          it.Width,
		Height:         it.Height,
		State:          mediav1.MediaState(it.State),
		FailureReason:  it.FailureReason,
		UploadedBy:     it.UploadedBy,
		CreateTime:     timestamppb.New(it.CreateTime),
		UpdateTime:     timestamppb.New(it.UpdateTime),
		Etag:           etag(it.Revision),
	}
	if it.Duration > 0 {
		out.Duration = durationpb.New(it.Duration)
	}
	if !it.TakenTime.IsZero() {
		out.TakenTime = timestamppb.New(it.TakenTime)
	}
	for _, t := range it.Thumbnails {
		out.Thumbnails = append(out.Thumbnails, &mediav1.Thumbnail{Size: t.Size, Width: t.Width, Height: t.Height})
	}
	return out
}

// GetMediaItem returns one item.
func (s *server) GetMediaItem(ctx context.Context, req *mediav1.GetMediaItemRequest) (*mediav1.MediaItem, error) {
	child, id, err := parseName("name", req.GetName(), "media")
	if err != nil {
		return nil, err
	}
	if _, err := s.authorize(ctx, child, view); err != nil {
		return nil, err
	}
	it, err := s.svc.store.GetItem(ctx, child, id)
	if err != nil {
		return nil, storeError(err, req.GetName())
	}
	return itemToProto(it), nil
}

// itemCursor is the position after a page of items, in its page token.
type itemCursor struct {
	AfterTime int64  `json:"t"`
	AfterID   string `json:"i"`
}

// ListMediaItems lists a child's items, newest first.
func (s *server) ListMediaItems(ctx context.Context, req *mediav1.ListMediaItemsRequest) (*mediav1.ListMediaItemsResponse, error) {
	child, err := parseChildName("parent", req.GetParent())
	if err != nil {
		return nil, err
	}
	q := store.ItemQuery{ChildID: child, Kind: store.Kind(req.GetKind()), Limit: pagetoken.Size(req.GetPageSize()) + 1}
	var bad []validate.Field
	if d := req.GetStartDate(); d != "" {
		t, err := time.Parse(time.DateOnly, d)
		if err != nil {
			bad = append(bad, validate.Field{Path: "start_date", Description: "is not a real date (YYYY-MM-DD)"})
		}
		q.CreatedFrom = t
	}
	if d := req.GetEndDate(); d != "" {
		t, err := time.Parse(time.DateOnly, d)
		if err != nil {
			bad = append(bad, validate.Field{Path: "end_date", Description: "is not a real date (YYYY-MM-DD)"})
		}
		q.CreatedBefore = t.AddDate(0, 0, 1)
	}
	if len(bad) == 0 && !q.CreatedFrom.IsZero() && !q.CreatedBefore.IsZero() && !q.CreatedFrom.Before(q.CreatedBefore) {
		bad = append(bad, validate.Field{Path: "end_date", Description: "is before start_date"})
	}
	if len(bad) > 0 {
		return nil, validate.InvalidArgument(bad...)
	}
	if _, err := s.authorize(ctx, child, view); err != nil {
		return nil, err
	}
	listing := fmt.Sprintf("media:%s:%d:%s:%s", child, q.Kind, req.GetStartDate(), req.GetEndDate())
	var cur itemCursor
	if ok, err := pagetoken.Decode(req.GetPageToken(), listing, &cur); err != nil {
		return nil, err
	} else if ok {
		q.After = &store.ItemCursor{CreateTime: time.UnixMicro(cur.AfterTime), ID: cur.AfterID}
	}
	items, err := s.svc.store.ListItems(ctx, q)
	if err != nil {
		return nil, storeError(err, "media items")
	}
	resp := &mediav1.ListMediaItemsResponse{}
	if len(items) == q.Limit {
		items = items[:q.Limit-1]
		last := items[len(items)-1]
		resp.NextPageToken = pagetoken.Encode(listing, itemCursor{AfterTime: last.CreateTime.UnixMicro(), AfterID: last.ID})
	}
	for _, it := range items {
		resp.MediaItems = append(resp.MediaItems, itemToProto(it))
	}
	return resp, nil
}

// kindFits reports whether content of the sniffed family may be filed as k.
func kindFits(k store.Kind, contentType string) bool {
	switch k {
	case store.KindPhoto:
		return strings.HasPrefix(contentType, "image/")
	case store.KindVideo:
		return strings.HasPrefix(contentType, "video/")
	case store.KindArtwork, store.KindDocument:
		return strings.HasPrefix(contentType, "image/")
	}
	return k == store.KindUnspecified
}

// UpdateMediaItem changes the title, caption or kind.
func (s *server) UpdateMediaItem(ctx context.Context, req *mediav1.UpdateMediaItemRequest) (*mediav1.MediaItem, error) {
	in := req.GetMediaItem()
	child, id, err := parseName("media_item.name", in.GetName(), "media")
	if err != nil {
		return nil, err
	}
	rev, err := parseEtag("media_item.etag", in.GetEtag())
	if err != nil {
		return nil, err
	}
	paths := map[string]bool{"title": true, "caption": true, "kind": true}
	if m := req.GetUpdateMask().GetPaths(); len(m) > 0 && !(len(m) == 1 && m[0] == "*") {
		paths = map[string]bool{}
		ignored := map[string]bool{"name": true, "etag": true}
		for _, p := range m {
			switch {
			case p == "title" || p == "caption" || p == "kind":
				paths[p] = true
			case ignored[p]:
			default:
				return nil, validate.InvalidArgument(validate.Field{Path: "update_mask", Description: fmt.Sprintf("%q cannot be changed: only title, caption and kind", p)})
			}
		}
	}
	if paths["kind"] && in.GetKind() == mediav1.MediaKind_MEDIA_KIND_UNSPECIFIED {
		return nil, validate.InvalidArgument(validate.Field{Path: "media_item.kind", Description: "is required"})
	}
	if _, err := s.authorize(ctx, child, contribute); err != nil {
		return nil, err
	}
	it, err := s.svc.store.UpdateItem(ctx, child, id, rev, func(it *store.Item) error {
		if paths["title"] {
			it.Title = in.GetTitle()
		}
		if paths["caption"] {
			it.Caption = in.GetCaption()
		}
		if paths["kind"] {
			k := store.Kind(in.GetKind())
			if !kindFits(k, it.ContentType) {
				return validate.InvalidArgument(validate.Field{Path: "media_item.kind",
					Description: fmt.Sprintf("%v does not fit content of type %s", in.GetKind(), it.ContentType)})
			}
			it.Kind = k
		}
		return nil
	})
	if err != nil {
		return nil, storeError(err, in.GetName())
	}
	return itemToProto(it), nil
}

// DeleteMediaItem deletes an item and wakes the sweeper, which deletes its
// bytes and thumbnails at once unless another item uses them.
func (s *server) DeleteMediaItem(ctx context.Context, req *mediav1.DeleteMediaItemRequest) (*emptypb.Empty, error) {
	child, id, err := parseName("name", req.GetName(), "media")
	if err != nil {
		return nil, err
	}
	rev, err := parseEtag("etag", req.GetEtag())
	if err != nil {
		return nil, err
	}
	if _, err := s.authorize(ctx, child, contribute); err != nil {
		return nil, err
	}
	if err := s.svc.store.DeleteItem(ctx, child, id, rev); err != nil {
		return nil, storeError(err, req.GetName())
	}
	s.svc.deleted()
	return &emptypb.Empty{}, nil
}

// ReadMediaContent streams an item's bytes, or a thumbnail's, from an
// offset: the first message carries the item, every message up to 256 KiB.
func (s *server) ReadMediaContent(req *mediav1.ReadMediaContentRequest, stream grpc.ServerStreamingServer[mediav1.ReadMediaContentResponse]) error {
	ctx := stream.Context()
	child, id, err := parseName("name", req.GetName(), "media")
	if err != nil {
		return err
	}
	if _, err := s.authorize(ctx, child, view); err != nil {
		return err
	}
	it, err := s.svc.store.GetItem(ctx, child, id)
	if err != nil {
		return storeError(err, req.GetName())
	}
	sha, size := it.ContentSHA256, it.SizeBytes
	if name := req.GetThumbnail(); name != "" {
		sha = ""
		for _, t := range it.Thumbnails {
			if t.Size == name {
				sha = t.SHA256
			}
		}
		if sha == "" {
			return status.Errorf(codes.NotFound, "%s has no %q thumbnail (yet)", req.GetName(), name)
		}
		if size, err = s.svc.blobs.Stat(ctx, sha); err != nil {
			return storeError(err, req.GetName()+" thumbnail "+name)
		}
	}
	if req.GetOffset() > size {
		return status.Errorf(codes.OutOfRange, "offset %d is beyond the end (%d bytes)", req.GetOffset(), size)
	}
	length := int64(-1)
	if req.GetLength() > 0 {
		length = req.GetLength()
	}
	r, err := s.svc.blobs.Open(ctx, sha, req.GetOffset(), length)
	if err != nil {
		if errors.Is(err, blob.ErrRange) {
			return status.Errorf(codes.OutOfRange, "offset %d is beyond the end", req.GetOffset())
		}
		if errors.Is(err, blob.ErrNotFound) {
			return s.internal(ctx, "read content", fmt.Errorf("blob %s of %s is missing: %w", sha, req.GetName(), err))
		}
		return storeError(err, req.GetName())
	}
	defer r.Close()
	first := &mediav1.ReadMediaContentResponse{MediaItem: itemToProto(it)}
	buf := make([]byte, readChunk)
	for {
		n, rerr := io.ReadFull(r, buf)
		if n > 0 || first != nil {
			msg := first
			if msg == nil {
				msg = &mediav1.ReadMediaContentResponse{}
			}
			msg.Data = buf[:n]
			if err := stream.Send(msg); err != nil {
				return err
			}
			first = nil
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			return nil
		}
		if rerr != nil {
			return storeError(rerr, req.GetName())
		}
	}
}

// readyEvent is the MEDIA_READY event of an item, for the outbox.
func readyEvent(it store.Item) outbox.Message {
	what := strings.ToLower(strings.TrimPrefix(mediav1.MediaKind(it.Kind).String(), "MEDIA_KIND_"))
	title := "New " + what
	if it.Title != "" {
		title += ": " + it.Title
	}
	return events.Message(&notificationpeerv1.Event{
		Type:      notificationv1.EventType_EVENT_TYPE_MEDIA_READY,
		Child:     childName(it.ChildID),
		Title:     title,
		Body:      it.Caption,
		Link:      itemName(it.ChildID, it.ID),
		OccurTime: timestamppb.Now(),
		Actor:     it.UploadedBy,
	})
}
