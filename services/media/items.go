package media

import (
	"context"
	"errors"
	"fmt"
	"io"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	mediav1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/v1"
	"github.com/kinbridge/kinbridge/pkg/names"
	"github.com/kinbridge/kinbridge/pkg/validate"
	"github.com/kinbridge/kinbridge/services/media/blob"
	"github.com/kinbridge/kinbridge/services/media/store"
)

// Item operations: what the item calls of the contract do once server.go
// has checked and translated their requests. Each checks the caller's
// permission on the child first, and returns the suite's statuses.

// item returns item id of child, if the caller may view the child.
func (s *Service) item(ctx context.Context, child, id string) (store.Item, error) {
	_, g, err := s.grant(ctx, child, view)
	if err != nil {
		return store.Item{}, err
	}
	it, err := s.store.GetItem(ctx, child, id)
	if err == nil && hidden(g, it) {
		err = store.ErrNotFound
	}
	return it, storeError(err, names.MediaItem{Child: child, ID: id}.String())
}

// listItems returns a page of items. The caller has checked the
// caller's view permission on q.ChildID (before decoding its page token).
func (s *Service) listItems(ctx context.Context, q store.ItemQuery) ([]store.Item, error) {
	items, err := s.store.ListItems(ctx, q)
	return items, storeError(err, "media items")
}

// itemEdit is what an update changes: a nil field is left alone.
type itemEdit struct {
	title, caption *string
	kind           *store.Kind
}

// updateItem applies e to item id of child at revision rev (0: whatever
// the revision), if the caller may contribute for the child. A kind that
// does not fit the content is refused. As for what progress records
// (services/progress/approval.go), a contributor's change of an item of a
// child that requires approval makes it a draft again, and an editor other
// than its uploader may not approve it; an administrator's changes no
// state.
func (s *Service) updateItem(ctx context.Context, child, id string, rev int64, e itemEdit) (store.Item, error) {
	p, g, err := s.grant(ctx, child, contribute)
	if err != nil {
		return store.Item{}, err
	}
	it, err := s.store.UpdateItemAnnouncing(ctx, child, id, rev, func(it *store.Item) error {
		title, caption, kind := it.Title, it.Caption, it.Kind
		if e.title != nil {
			it.Title = *e.title
		}
		if e.caption != nil {
			it.Caption = *e.caption
		}
		if e.kind != nil {
			if !kindFits(*e.kind, it.ContentType) {
				return validate.InvalidArgument(validate.Field{Path: "media_item.kind",
					Description: fmt.Sprintf("%v does not fit content of type %s", mediav1.MediaKind(*e.kind), it.ContentType)})
			}
			it.Kind = *e.kind
		}
		if it.Title != title || it.Caption != caption || it.Kind != kind {
			afterEdit(&it.Approval, p, g.ApprovalRequired, it.UploadedBy)
		}
		return nil
	}, redraftedEvents(p.Subject))
	if err == nil {
		s.notify()
	}
	return it, storeError(err, names.MediaItem{Child: child, ID: id}.String())
}

// deleteItem deletes item id of child at revision rev (0: whatever the
// revision), if the caller may contribute for the child, and wakes the
// sweeper, which deletes its bytes and thumbnails at once unless another
// item uses them.
func (s *Service) deleteItem(ctx context.Context, child, id string, rev int64) error {
	if _, err := s.authorize(ctx, child, contribute); err != nil {
		return err
	}
	if err := s.store.DeleteItem(ctx, child, id, rev); err != nil {
		return storeError(err, names.MediaItem{Child: child, ID: id}.String())
	}
	s.deleted()
	return nil
}

// openContent opens the bytes of item id of child, or of its thumbnail
// named thumbnail when that is not "", from offset, length bytes of them
// (-1: to the end), if the caller may view the child. It returns the item
// with them.
func (s *Service) openContent(ctx context.Context, child, id, thumbnail string, offset, length int64) (store.Item, io.ReadCloser, error) {
	name := names.MediaItem{Child: child, ID: id}.String()
	_, g, err := s.grant(ctx, child, view)
	if err != nil {
		return store.Item{}, nil, err
	}
	it, err := s.store.GetItem(ctx, child, id)
	if err == nil && hidden(g, it) {
		err = store.ErrNotFound // its bytes and thumbnails alike
	}
	if err != nil {
		return store.Item{}, nil, storeError(err, name)
	}
	sha, size := it.ContentSHA256, it.SizeBytes
	if thumbnail != "" {
		sha = ""
		for _, t := range it.Thumbnails {
			if t.Size == thumbnail {
				sha = t.SHA256
			}
		}
		if sha == "" {
			return store.Item{}, nil, status.Errorf(codes.NotFound, "%s has no %q thumbnail (yet)", name, thumbnail)
		}
		if size, err = s.blobs.Stat(ctx, sha); err != nil {
			return store.Item{}, nil, storeError(err, name+" thumbnail "+thumbnail)
		}
	}
	if offset > size {
		return store.Item{}, nil, status.Errorf(codes.OutOfRange, "offset %d is beyond the end (%d bytes)", offset, size)
	}
	r, err := s.blobs.Open(ctx, sha, offset, length)
	if err != nil {
		if errors.Is(err, blob.ErrRange) {
			return store.Item{}, nil, status.Errorf(codes.OutOfRange, "offset %d is beyond the end", offset)
		}
		if errors.Is(err, blob.ErrNotFound) {
			return store.Item{}, nil, s.internal(ctx, "read content", fmt.Errorf("blob %s of %s is missing: %w", sha, name, err))
		}
		return store.Item{}, nil, storeError(err, name)
	}
	return it, r, nil
}
