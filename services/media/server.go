package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

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
	"github.com/kinbridge/kinbridge/pkg/etag"
	"github.com/kinbridge/kinbridge/pkg/events"
	"github.com/kinbridge/kinbridge/pkg/names"
	"github.com/kinbridge/kinbridge/pkg/outbox"
	"github.com/kinbridge/kinbridge/pkg/pagetoken"
	"github.com/kinbridge/kinbridge/pkg/validate"
	"github.com/kinbridge/kinbridge/services/media/blob"
	"github.com/kinbridge/kinbridge/services/media/store"
)

// readChunk is the size of the chunks ReadMediaContent sends.
const readChunk = 256 << 10

// server implements the public MediaService: it translates between the
// contract and the Service, which does the work (items.go, upload.go).
type server struct {
	mediav1.UnimplementedMediaServiceServer
	svc *Service
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

// caller returns the authenticated user; the auth interceptor guarantees one.
func caller(ctx context.Context) (auth.Principal, error) {
	p, ok := auth.FromContext(ctx)
	if !ok {
		return auth.Principal{}, status.Error(codes.Unauthenticated, "missing bearer token")
	}
	return p, nil
}

const (
	view       = progresspeerv1.Permission_PERMISSION_VIEW
	contribute = progresspeerv1.Permission_PERMISSION_CONTRIBUTE
)

func itemToProto(it store.Item) *mediav1.MediaItem {
	out := &mediav1.MediaItem{
		Name:           names.MediaItem{Child: it.ChildID, ID: it.ID}.String(),
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
		Etag:           etag.Of(it.Revision),
	}
	setApproval(out, it.Approval)
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
	rn, err := validate.Name("name", req.GetName(), names.ParseMediaItem)
	if err != nil {
		return nil, err
	}
	child, id := rn.Child, rn.ID
	it, err := s.svc.item(ctx, child, id)
	if err != nil {
		return nil, err
	}
	out := itemToProto(it)
	s.svc.withReactions(ctx, child, out)
	return out, nil
}

// itemCursor is the position after a page of items, in its page token.
type itemCursor struct {
	AfterTime int64  `json:"t"`
	AfterID   string `json:"i"`
}

// ListMediaItems lists a child's items, newest first.
func (s *server) ListMediaItems(ctx context.Context, req *mediav1.ListMediaItemsRequest) (*mediav1.ListMediaItemsResponse, error) {
	cn, err := validate.Name("parent", req.GetParent(), names.ParseChild)
	if err != nil {
		return nil, err
	}
	child := cn.ID
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
	_, g, err := s.svc.grant(ctx, child, view)
	if err != nil {
		return nil, err
	}
	var none bool
	if q.PublishState, none = listState(g, req.GetPublishState()); none {
		return &mediav1.ListMediaItemsResponse{}, nil
	}
	listing := fmt.Sprintf("media:%s:%d:%s:%s:%d", child, q.Kind, req.GetStartDate(), req.GetEndDate(), q.PublishState)
	var cur itemCursor
	if ok, err := pagetoken.Decode(req.GetPageToken(), listing, &cur); err != nil {
		return nil, err
	} else if ok {
		q.After = &store.ItemCursor{CreateTime: time.UnixMicro(cur.AfterTime), ID: cur.AfterID}
	}
	items, err := s.svc.listItems(ctx, q)
	if err != nil {
		return nil, err
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
	s.svc.withReactions(ctx, child, resp.MediaItems...)
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
	rn, err := validate.Name("media_item.name", in.GetName(), names.ParseMediaItem)
	if err != nil {
		return nil, err
	}
	child, id := rn.Child, rn.ID
	rev, err := etag.Revision("media_item.etag", in.GetEtag())
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
	var e itemEdit
	title, caption := in.GetTitle(), in.GetCaption()
	if paths["title"] {
		e.title = &title
	}
	if paths["caption"] {
		e.caption = &caption
	}
	if paths["kind"] {
		k := store.Kind(in.GetKind())
		e.kind = &k
	}
	it, err := s.svc.updateItem(ctx, child, id, rev, e)
	if err != nil {
		return nil, err
	}
	out := itemToProto(it)
	s.svc.withReactions(ctx, child, out)
	return out, nil
}

// DeleteMediaItem deletes an item and wakes the sweeper, which deletes its
// bytes and thumbnails at once unless another item uses them.
func (s *server) DeleteMediaItem(ctx context.Context, req *mediav1.DeleteMediaItemRequest) (*emptypb.Empty, error) {
	rn, err := validate.Name("name", req.GetName(), names.ParseMediaItem)
	if err != nil {
		return nil, err
	}
	child, id := rn.Child, rn.ID
	rev, err := etag.Revision("etag", req.GetEtag())
	if err != nil {
		return nil, err
	}
	if err := s.svc.deleteItem(ctx, child, id, rev); err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}

// ReadMediaContent streams an item's bytes, or a thumbnail's, from an
// offset: the first message carries the item, every message up to 256 KiB.
func (s *server) ReadMediaContent(req *mediav1.ReadMediaContentRequest, stream grpc.ServerStreamingServer[mediav1.ReadMediaContentResponse]) error {
	ctx := stream.Context()
	rn, err := validate.Name("name", req.GetName(), names.ParseMediaItem)
	if err != nil {
		return err
	}
	child, id := rn.Child, rn.ID
	length := int64(-1)
	if req.GetLength() > 0 {
		length = req.GetLength()
	}
	it, r, err := s.svc.openContent(ctx, child, id, req.GetThumbnail(), req.GetOffset(), length)
	if err != nil {
		return err
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
	return events.Message(&notificationpeerv1.Event{
		Type:      notificationv1.EventType_EVENT_TYPE_MEDIA_READY,
		Child:     names.Child{ID: it.ChildID}.String(),
		Title:     "New " + itemWhat(it),
		Body:      it.Caption,
		Link:      names.MediaItem{Child: it.ChildID, ID: it.ID}.String(),
		OccurTime: timestamppb.Now(),
		Actor:     it.UploadedBy,
	})
}

// itemWhat names an item in an event's title: its kind, and its title
// when it has one ("photo: Sports day").
func itemWhat(it store.Item) string {
	what := strings.ToLower(strings.TrimPrefix(mediav1.MediaKind(it.Kind).String(), "MEDIA_KIND_"))
	if it.Title != "" {
		what += ": " + it.Title
	}
	return what
}

// checkDeclared checks what an upload declares: the parent, and the size
// against the declared kind's limit (the largest limit when the kind is to
// be inferred). It runs before any byte is accepted.
func (s *server) checkDeclared(field string, m *mediav1.UploadMetadata) (string, store.UploadMetadata, error) {
	if m == nil {
		return "", store.UploadMetadata{}, validate.InvalidArgument(validate.Field{Path: field, Description: "is required"})
	}
	cn, err := validate.Name(field+".parent", m.GetParent(), names.ParseChild)
	if err != nil {
		return "", store.UploadMetadata{}, err
	}
	child := cn.ID
	if m.GetSizeBytes() <= 0 {
		return "", store.UploadMetadata{}, validate.InvalidArgument(validate.Field{Path: field + ".size_bytes", Description: "must be the exact size in bytes, above 0"})
	}
	meta := store.UploadMetadata{
		Kind: store.Kind(m.GetKind()), Title: m.GetTitle(), Caption: m.GetCaption(),
		Filename: m.GetFilename(), SizeBytes: m.GetSizeBytes(), SHA256: m.GetSha256(),
	}
	if err := s.svc.checkSize(meta.Kind, meta.SizeBytes); err != nil {
		return "", store.UploadMetadata{}, err
	}
	return child, meta, nil
}

// UploadMedia receives metadata, then the bytes, and stores them.
func (s *server) UploadMedia(stream grpc.ClientStreamingServer[mediav1.UploadMediaRequest, mediav1.MediaItem]) error {
	ctx := stream.Context()
	defer s.svc.uploading(ctx)()
	first, err := stream.Recv()
	if err != nil {
		return recvError(err)
	}
	child, meta, err := s.checkDeclared("metadata", first.GetMetadata())
	if err != nil {
		return err
	}
	p, err := s.svc.authorize(ctx, child, contribute)
	if err != nil {
		return err
	}
	it, err := s.svc.uploadOnce(ctx, p, child, meta, func() ([]byte, error) {
		msg, err := stream.Recv()
		if err != nil {
			return nil, err
		}
		if msg.GetMetadata() != nil {
			return nil, validate.InvalidArgument(validate.Field{Path: "metadata", Description: "is only allowed in the first message"})
		}
		return msg.GetChunk(), nil
	})
	if err != nil {
		return err
	}
	return stream.SendAndClose(itemToProto(it))
}

func sessionToProto(sess store.Session) *mediav1.UploadSession {
	m := sess.Metadata
	return &mediav1.UploadSession{
		Name: names.UploadSession{Child: sess.ChildID, ID: sess.ID}.String(),
		Metadata: &mediav1.UploadMetadata{
			Parent: names.Child{ID: sess.ChildID}.String(), Kind: mediav1.MediaKind(m.Kind), Title: m.Title, Caption: m.Caption,
			Filename: m.Filename, SizeBytes: m.SizeBytes, Sha256: m.SHA256,
		},
		CommittedOffset: sess.CommittedOffset,
		ExpireTime:      timestamppb.New(sess.ExpireTime),
		CreateTime:      timestamppb.New(sess.CreateTime),
		MediaItem:       finishedItem(sess),
	}
}

// finishedItem is the name of the item a finished session became, or "".
func finishedItem(sess store.Session) string {
	if sess.ItemID == "" {
		return ""
	}
	return names.MediaItem{Child: sess.ChildID, ID: sess.ItemID}.String()
}

// CreateUploadSession starts a resumable upload.
func (s *server) CreateUploadSession(ctx context.Context, req *mediav1.CreateUploadSessionRequest) (*mediav1.UploadSession, error) {
	child, meta, err := s.checkDeclared("metadata", req.GetMetadata())
	if err != nil {
		return nil, err
	}
	p, err := s.svc.authorize(ctx, child, contribute)
	if err != nil {
		return nil, err
	}
	sess, err := s.svc.createUploadSession(ctx, p, child, meta)
	if err != nil {
		return nil, err
	}
	return sessionToProto(sess), nil
}

// session returns the caller's live session named name, after checking
// perm on its child. Another user's session is NOT_FOUND.
func (s *server) session(ctx context.Context, field, name string, perm progresspeerv1.Permission) (auth.Principal, store.Session, error) {
	rn, err := validate.Name(field, name, names.ParseUploadSession)
	if err != nil {
		return auth.Principal{}, store.Session{}, err
	}
	child, id := rn.Child, rn.ID
	p, err := s.svc.authorize(ctx, child, perm)
	if err != nil {
		return p, store.Session{}, err
	}
	sess, err := s.svc.liveSession(ctx, p, child, id)
	return p, sess, err
}

// GetUploadSession returns a session with its committed offset.
func (s *server) GetUploadSession(ctx context.Context, req *mediav1.GetUploadSessionRequest) (*mediav1.UploadSession, error) {
	_, sess, err := s.session(ctx, "name", req.GetName(), view)
	if err != nil {
		return nil, err
	}
	return sessionToProto(sess), nil
}

// WriteUploadSession appends bytes from the committed offset, committing
// each chunk (written, synced, then the offset moved) as it arrives.
func (s *server) WriteUploadSession(stream grpc.ClientStreamingServer[mediav1.WriteUploadSessionRequest, mediav1.UploadSession]) error {
	ctx := stream.Context()
	defer s.svc.uploading(ctx)()
	first, err := stream.Recv()
	if err != nil {
		return recvError(err)
	}
	start := first.GetStart()
	if start == nil {
		return validate.InvalidArgument(validate.Field{Path: "start", Description: "must be the first message"})
	}
	_, sess, err := s.session(ctx, "start.name", start.GetName(), contribute)
	if err != nil {
		return err
	}
	sess, err = s.svc.writeSession(ctx, sess, start.GetOffset(), func() ([]byte, error) {
		msg, err := stream.Recv()
		if err != nil {
			return nil, err
		}
		if msg.GetStart() != nil {
			return nil, validate.InvalidArgument(validate.Field{Path: "start", Description: "is only allowed in the first message"})
		}
		return msg.GetChunk(), nil
	})
	if err != nil {
		return err
	}
	return stream.SendAndClose(sessionToProto(sess))
}

// FinishUploadSession stores a session whose bytes are all there, and
// marks it finished (keeping it, without its bytes, until it expires), so
// that finishing again answers with the same item.
func (s *server) FinishUploadSession(ctx context.Context, req *mediav1.FinishUploadSessionRequest) (*mediav1.MediaItem, error) {
	p, sess, err := s.session(ctx, "name", req.GetName(), contribute)
	if err != nil {
		return nil, err
	}
	it, err := s.svc.finishUpload(ctx, p, sess)
	if err != nil {
		return nil, err
	}
	return itemToProto(it), nil
}

// CancelUploadSession abandons a session and removes its bytes.
func (s *server) CancelUploadSession(ctx context.Context, req *mediav1.CancelUploadSessionRequest) (*emptypb.Empty, error) {
	_, sess, err := s.session(ctx, "name", req.GetName(), contribute)
	if err != nil {
		return nil, err
	}
	if err := s.svc.cancelSession(ctx, sess); err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}
