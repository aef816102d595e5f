// Package store keeps the media service's state: media items, the
// reference counts of the blobs they use, resumable upload sessions, and
// durable processing jobs. One SQL implementation serves SQLite and
// PostgreSQL.
//
// # Blob references and the sweeper
//
// Blob bytes live in a content-addressed blob store (services/media/blob),
// which cannot tell which blobs are in use. This store counts references in
// blob_refs, in the same transaction as the writes that take or drop them:
// each item references its stored bytes (ContentSHA256) and each of its
// thumbnails, once per distinct blob; each pin ([Store.PinBlob]) is one more
// reference. A count that drops to 0 leaves its row in place, stamped with
// when it did, so a sweeper can find the bytes to delete.
//
// A listing alone cannot make deleting safe. A sweeper that listed X as
// unreferenced, then deleted X's bytes, would destroy an upload of the same
// bytes that referenced X and wrote it between the listing and the delete:
// the database would say "in use" and the bytes would be gone. So the
// sweeper first condemns the blob ([Store.CondemnBlob]): a compare-and-set
// that succeeds only while the count is still 0, and that records the
// sweeper and the end of its lease. A condemned row refuses new references
// ([ErrBlobCondemned]) until the sweeper has deleted the bytes and removed
// the row ([Store.ForgetBlob]). The protocols are:
//
//	writer (upload, thumbnail):      sweeper:
//	  PinBlob(sha, holder)             for sha in UnreferencedBlobs(now-grace):
//	  blobs.Put(bytes)                   ok := CondemnBlob(sha, me, now-grace, now+lease)
//	  CreateItem / UpdateItem (refs)     if ok:
//	  UnpinBlob, or DeleteSession /        blobs.Delete(ctx with deadline < now+lease, sha)
//	  CompleteJob / FinishJob              ForgetBlob(sha, me)
//
// Why no bytes in use are ever deleted, whichever way a writer's PinBlob
// falls against a sweep of the same blob:
//
//   - Pin before the condemnation: the count is above 0, so CondemnBlob
//     fails and the sweeper leaves the bytes alone.
//   - Pin while the condemnation's lease runs: PinBlob fails with
//     ErrBlobCondemned before the writer has written anything; it retries
//     shortly, once the sweeper is done.
//   - Pin after ForgetBlob: the pin creates a new row, and the writer's Put,
//     which comes after the pin, writes the bytes the sweeper deleted.
//   - Pin after the lease ran out (the sweeper died or stalled): the pin
//     takes the row over. The sweeper bounded its Delete by a deadline before
//     its lease ended, so the Delete, if it happened, happened before the
//     pin, and the writer's Put after the pin restores the bytes; the stale
//     sweeper's ForgetBlob then finds the row no longer condemned by it and
//     keeps it.
//   - A reference taken without a pin (an item write for bytes its writer
//     did not pin and Put) is refused on any condemned row, live or not: the
//     bytes may already be gone, and only a Put can bring them back.
//
// So a writer must pin a blob before it writes the bytes and keep the pin
// until its item references them. The lease must exceed the sweeper's
// Delete deadline by more than the clock skew between machines, since a
// writer compares the sweeper's lease with its own clock: minutes against
// seconds is plenty.
//
// A pin belongs to a [Holder]: an upload session or a processing job. The
// store releases a session's pins when the session is deleted, and a job's
// when the job completes or is deleted, in the same transaction, so a
// crash between pinning and unpinning holds the bytes only until the
// session expires or the job is retried to completion.
//
// # Deleting promptly
//
// Deleting is deleting: bytes no item uses are a child's picture that
// nobody may see any more, so nothing waits for them to age. The media
// service sweeps with olderThan = now, and wakes its sweeper after every
// write that can drop a count to 0 (an item or a child deleted, an upload
// refused or cancelled, a job ended): the bytes go within moments, and a
// crash in between leaves a row at 0 that the next sweep (at start, then
// every sweep interval) finds. The protocol above never needed a grace
// period to be safe; without one, bytes dropped and soon uploaded again
// are merely written twice.
//
// That leaves one way to lose track of bytes, which the store rules out: a
// pin released under a writer that is still at work. If deleting an item
// released the pins of the job working on it between the worker's PinBlob
// and its Put, the sweeper could condemn, delete and forget the blob, and
// the Put would then leave bytes no row knows of. So a holder's pins are
// released only when no writer works under it:
//
//   - a session is deleted only by whoever holds it (its writer or
//     finisher, a cancel, a sweeper), or while nobody does. Within one
//     upload directory the lock on the session's file keeps the others
//     out; across hosts the hold in the database does ([Store.HoldSession]:
//     a lease, renewed while its holder works): [Store.DeleteSession]
//     spares a session another holder's live hold is on. A holder that
//     cannot renew its hold stops before it lapses, and a finish renews it
//     right before its PinBlob and Put, so no host drops a session, and
//     releases its pins, under another host's Put (the media service's
//     TestHeldSessionOutlivesSweepOnAnotherHost; the contract's cases on
//     holds). [Store.DeleteChild] does not delete a child's sessions: it
//     ends them (they expire at once and take no more bytes), and the
//     sweeper, or the holder on its way out, deletes them;
//   - a job is deleted by its worker (CompleteJob, FinishJob), or with its
//     item only while no worker leases it. A leased job outlives its
//     deleted item: its worker finds the item gone and completes the job,
//     releasing its pins.
//
// And an item for a deleted child cannot be created: [Store.DeleteChild]
// leaves a tombstone that [Store.CreateItem] and [Store.CreateSession]
// check in their transactions (see media_children in the migrations), so
// an upload that finishes after the deletion is refused, and its session's
// pin, released when the session is dropped, leaves its bytes at 0.
package store

import (
	"context"
	"embed"
	"errors"
	"io/fs"
	"time"

	"github.com/kinbridge/kinbridge/pkg/outbox"

	"github.com/kinbridge/kinbridge/pkg/sqldb"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations returns the schema migrations, for sqldb.Open and `kinbridge migrate`.
func Migrations() fs.FS { return sqldb.MigrationsDir(migrations, "migrations") }

// Errors the store reports; callers map them to API status codes.
var (
	ErrNotFound      = errors.New("not found")
	ErrAlreadyExists = errors.New("already exists")
	// ErrStale means the caller's expected revision is no longer current.
	ErrStale = errors.New("revision is not current")
	// ErrOffsetMismatch means an upload session's committed offset is not
	// the one the write started from: another writer got there first.
	ErrOffsetMismatch = errors.New("committed offset has moved")
	// ErrFinished means an upload session has become an item: it takes no
	// more bytes (Session.ItemID names the item).
	ErrFinished = errors.New("upload session is finished")
	// ErrInvalid is a request the store refuses outright (an offset beyond
	// the upload's size, an empty blob name).
	ErrInvalid = errors.New("invalid argument")
	// ErrBlobCondemned means a sweeper is deleting (or was deleting) the
	// blob's bytes, so it cannot be referenced now: pin it, Put the bytes
	// again, then reference it. A pin fails with it only while the
	// sweeper's lease runs; retry after a short pause.
	ErrBlobCondemned = errors.New("blob is being deleted")
	// ErrNotPinned means UnpinBlob found no such pin, or a reference count
	// would go below zero: a bookkeeping bug, reported loudly since it
	// could otherwise let bytes in use be swept.
	ErrNotPinned = errors.New("blob is not referenced")
	// ErrLeaseLost means a job is no longer leased to the worker finishing
	// it: its lease ran out and another worker claimed it.
	ErrLeaseLost = errors.New("job lease lost")
	// ErrSessionHeld means another holder's hold on an upload session is
	// live (HoldSession): it is at work on the session, which is not to
	// be taken or deleted under it.
	ErrSessionHeld = errors.New("upload session is held by another")
	// ErrChildDeleted means the child was deleted (DeleteChild): nothing
	// more is stored for it.
	ErrChildDeleted = errors.New("child was deleted")
	// ErrCapReached means a write would put a user over a cap; the error
	// that wraps it (a *CapError) says which and by how much.
	ErrCapReached = errors.New("cap reached")
)

// Kind is what a media item is. The numbers match the contract's MediaKind.
type Kind int

// Kinds.
const (
	KindUnspecified Kind = 0
	KindArtwork     Kind = 1
	KindPhoto       Kind = 2
	KindVideo       Kind = 3
	KindDocument    Kind = 4
)

// State is where an item is in its life. The numbers match the contract's
// MediaState.
type State int

// States.
const (
	StateUnspecified State = 0
	StateUploading   State = 1
	StateProcessing  State = 2
	StateReady       State = 3
	StateFailed      State = 4
)

// Thumbnail is a smaller picture of an item, stored as a blob of its own.
type Thumbnail struct {
	Size   string `json:"size"` // "small", "large"
	Width  int32  `json:"width"`
	Height int32  `json:"height"`
	SHA256 string `json:"sha256"`
}

// Item is a child's photo, video, artwork or document.
type Item struct {
	ChildID     string
	ID          string
	Kind        Kind
	Title       string
	Caption     string
	ContentType string
	SizeBytes   int64
	// OriginalSHA256 is the hash of the bytes as uploaded: unique per child,
	// so the same upload is stored once. Empty while unknown. It cannot be
	// changed after creation.
	OriginalSHA256 string
	// ContentSHA256 names the stored blob (after location removal).
	ContentSHA256 string
	Width         int32
	Height        int32
	Duration      time.Duration // stored in microseconds
	TakenTime     time.Time     // zero when unknown
	State         State
	FailureReason string
	Thumbnails    []Thumbnail
	UploadedBy    string
	Filename      string
	CreateTime    time.Time
	UpdateTime    time.Time
	Revision      int64 // increases on every change; the etag is derived from it
	// Approval says whether guardians see it (approval.go); only
	// ApproveItem changes it.
	Approval
}

// blobs returns the distinct blobs the item references.
func (it *Item) blobs() []string {
	var out []string
	add := func(sha string) {
		if sha == "" {
			return
		}
		for _, s := range out {
			if s == sha {
				return
			}
		}
		out = append(out, sha)
	}
	add(it.ContentSHA256)
	for _, t := range it.Thumbnails {
		add(t.SHA256)
	}
	return out
}

// ItemCursor is the position after the last item of a page. Items are
// listed newest first by (create time, id), so items created meanwhile sort
// before the cursor and never shift a page.
type ItemCursor struct {
	CreateTime time.Time
	ID         string
}

// ItemQuery selects a page of a child's items.
type ItemQuery struct {
	ChildID string
	Kind    Kind // KindUnspecified for all
	// CreatedFrom and CreatedBefore bound the creation time: from is
	// inclusive, before exclusive; zero is unbounded.
	CreatedFrom   time.Time
	CreatedBefore time.Time
	PublishState  PublishState // 0 for all
	After         *ItemCursor  // nil for the first page
	Limit         int          // 0 for all
}

// ChildDeletion is what a DeleteChild did.
type ChildDeletion struct {
	// Fresh is false when the child was deleted before: a repeat.
	Fresh bool
	// EventID is the id of the event the child was first deleted by.
	EventID string
	// Items and Sessions count the items this call deleted and the upload
	// sessions it ended.
	Items, Sessions int
}

// Holder owns pins: an upload session or a processing job.
type Holder string

// SessionHolder is the holder of the pins an upload session takes; they
// are released when the session is deleted.
func SessionHolder(sessionID string) Holder { return Holder("session/" + sessionID) }

// JobHolder is the holder of the pins a job takes; they are released when
// the job completes or is deleted.
func JobHolder(jobID string) Holder { return Holder("job/" + jobID) }

// UploadMetadata is what an upload is, sent before its bytes.
type UploadMetadata struct {
	Kind      Kind
	Title     string
	Caption   string
	Filename  string
	SizeBytes int64  // exact; the committed offset never exceeds it
	SHA256    string // the client's hash of the bytes, verified when not empty
}

// Session is a resumable upload in progress.
type Session struct {
	ID              string
	ChildID         string
	Metadata        UploadMetadata
	CommittedOffset int64
	// TempKey names where the bytes so far are kept (a file path or an
	// object key); the store never touches it.
	TempKey    string
	UploadedBy string
	// IdleTimeout is how long the session lives after its last write;
	// 0 at creation means DefaultIdleTimeout.
	IdleTimeout time.Duration
	CreateTime  time.Time
	UpdateTime  time.Time
	ExpireTime  time.Time
	// ItemID is the item a finished session became; "" while it is open.
	// A finished session is kept until it expires, so that a client that
	// lost the answer can learn the item; its bytes are already gone.
	ItemID string
	// HashState is the running SHA-256 of the first CommittedOffset bytes
	// (crypto/sha256's binary state), as recorded by CommitSession; ""
	// when not known.
	HashState string
	// HeldBy names the hold on the session (HoldSession), "" when none was
	// taken; the hold is live until HeldUntil (zero: not held).
	HeldBy    string
	HeldUntil time.Time
}

// DefaultIdleTimeout is how long an untouched session lives when its
// creator does not say.
const DefaultIdleTimeout = 24 * time.Hour

// Job is durable processing work on an item (thumbnails, metadata).
type Job struct {
	ID      string // generated when empty
	ChildID string
	ItemID  string
	Kind    string
	// Attempts counts the claims so far, the current one included: a worker
	// that crashes mid-job has used an attempt too.
	Attempts    int
	NextAttempt time.Time // not claimed before this; zero at enqueue: now
	LastError   string
	LeaseOwner  string
	LeaseUntil  time.Time // zero when never leased
	CreateTime  time.Time
	// TraceContext is the trace of the request that enqueued the job, as
	// propagation headers (traceparent, tracestate, ...): its runs, retries
	// included, continue that trace. Enqueueing fills it from the context
	// with the otel global propagator unless it is already set; nil when
	// there was no trace to continue.
	TraceContext map[string]string
}

// Store is the media service's repository. Writes that others must hear
// about take the events announcing them, which are added to the outbox in
// the same transaction: stored together or not at all.
type Store interface {
	Approvals
	// CreateItem stores a new item at revision 1, references its blobs, and
	// enqueues jobs (their child and item ids filled in) and events, all in
	// one transaction. If the child already has an item with the same
	// OriginalSHA256, it returns that item with created=false and changes
	// nothing: concurrent identical uploads yield one item. A clash of ids
	// alone is ErrAlreadyExists; a condemned blob is ErrBlobCondemned; a
	// deleted child is ErrChildDeleted.
	CreateItem(ctx context.Context, it Item, jobs []Job, events ...outbox.Message) (item Item, created bool, err error)
	GetItem(ctx context.Context, childID, id string) (Item, error)
	// FindByOriginal returns the child's item uploaded with these bytes.
	FindByOriginal(ctx context.Context, childID, originalSHA256 string) (Item, error)
	// ListItems returns a page of a child's items, newest first.
	ListItems(ctx context.Context, q ItemQuery) ([]Item, error)
	// UpdateItem applies change to the current item and stores the result,
	// adjusting blob references to what changed, with events. expectRevision
	// 0 means "whatever is current"; otherwise a different current revision
	// fails with ErrStale and nothing changes. The ids, OriginalSHA256,
	// UploadedBy and CreateTime cannot be changed.
	UpdateItem(ctx context.Context, childID, id string, expectRevision int64, change func(*Item) error, events ...outbox.Message) (Item, error)
	// DeleteItem removes an item, its jobs that no worker leases (releasing
	// their pins) and its blob references, with events. A leased job stays
	// for its worker, which completes it on finding the item gone.
	DeleteItem(ctx context.Context, childID, id string, expectRevision int64, events ...outbox.Message) error
	// DeleteChild records that the child was deleted (eventID says by
	// which event) and, in the same transaction, removes its items with
	// their references and its jobs that no worker leases, and ends its
	// upload sessions: they expire at once, for the sweeper (or whoever
	// holds one) to delete with their bytes. From then on CreateItem and
	// CreateSession for the child fail with ErrChildDeleted. Deleting again
	// changes nothing but what a repeat finds left, and reports Fresh false.
	DeleteChild(ctx context.Context, childID, eventID string) (ChildDeletion, error)

	// PinBlob takes a reference for holder on bytes about to be written.
	// Pinning again for the same holder does nothing.
	PinBlob(ctx context.Context, sha256 string, holder Holder) error
	// UnpinBlob drops holder's pin; ErrNotPinned without one.
	UnpinBlob(ctx context.Context, sha256 string, holder Holder) error
	// BlobRefs returns a blob's reference count; ErrNotFound without a row.
	BlobRefs(ctx context.Context, sha256 string) (int64, error)
	// UnreferencedBlobs lists blobs without references since before
	// olderThan and not being swept by anyone else, oldest first.
	UnreferencedBlobs(ctx context.Context, olderThan time.Time, limit int) ([]string, error)
	// CondemnBlob marks an unreferenced blob as being deleted by sweeper
	// until the given time, and reports whether it did: false when the blob
	// was referenced meanwhile, or is condemned by another sweeper whose
	// lease runs.
	CondemnBlob(ctx context.Context, sha256, sweeper string, olderThan, until time.Time) (bool, error)
	// ForgetBlob removes a blob's row after sweeper deleted its bytes, if
	// it is still condemned by sweeper with no references, and reports
	// whether it did. A new reference wins.
	ForgetBlob(ctx context.Context, sha256, sweeper string) (bool, error)

	// CreateSession stores a new upload session at offset 0;
	// ErrChildDeleted for a deleted child, a *CapError when the uploader's
	// open sessions (neither finished nor expired, on any instance) leave
	// no room under caps.
	CreateSession(ctx context.Context, s Session, caps UploadCaps) (Session, error)
	// GetSession returns a session, expired or not.
	GetSession(ctx context.Context, id string) (Session, error)
	// AdvanceSession moves the committed offset from one value to another
	// and extends the expiry; it fails with ErrOffsetMismatch (and the
	// current session) when the offset is no longer from, so two writers
	// never both append. An expired session is ErrNotFound, a finished one
	// ErrFinished (with the session).
	AdvanceSession(ctx context.Context, id string, from, to int64) (Session, error)
	// CommitSession is AdvanceSession recording, in the same transaction,
	// the running hash of the bytes up to the new offset (Session.HashState)
	// and, unless part is "", the blob-store part holding the bytes from
	// from to to (Parts), which the caller stored first.
	CommitSession(ctx context.Context, id string, from, to int64, hashState, part string) (Session, error)
	// Parts lists a session's parts in order.
	Parts(ctx context.Context, id string) ([]Part, error)
	// FinishSession records the item a complete session became, forgets
	// its parts (the caller deletes their bytes) and releases its pins; the session takes no more bytes and is kept until
	// it expires. Finishing it again returns it unchanged.
	FinishSession(ctx context.Context, id, itemID string) (Session, error)
	// DeleteSession removes a session with its parts' rows (the caller
	// deletes their bytes first) and releases its pins, unless a hold on
	// it other than holder's ("" for none) is live: ErrSessionHeld.
	DeleteSession(ctx context.Context, id, holder string) error
	// HoldSession takes or renews holder's hold on a session, expired or
	// not, until leaseFor from now, and returns the session; ErrSessionHeld
	// while another holder's hold is live, unless its name starts with
	// takeOver (not ""): a process sharing the caller's upload directory.
	HoldSession(ctx context.Context, id, holder string, leaseFor time.Duration, takeOver string) (Session, error)
	// ReleaseSession ends holder's hold on a session if it still has it.
	ReleaseSession(ctx context.Context, id, holder string) error
	// ExpiredSessions lists sessions that expired before now, soonest first.
	ExpiredSessions(ctx context.Context, now time.Time, limit int) ([]Session, error)

	// EnqueueJobs stores jobs, due at once unless NextAttempt says otherwise.
	EnqueueJobs(ctx context.Context, jobs ...Job) error
	GetJob(ctx context.Context, id string) (Job, error)
	// ClaimJobs leases up to limit due jobs to owner until now+leaseFor. A
	// job is due when its next attempt has come and no lease on it runs.
	ClaimJobs(ctx context.Context, owner string, now time.Time, leaseFor time.Duration, limit int) ([]Job, error)
	// CompleteJob removes a job owner holds and releases its pins.
	CompleteJob(ctx context.Context, id, owner string) error
	// FinishJob applies change to the job's item, adjusting blob references
	// and adding events, and completes the job, in one transaction: the
	// result and the job's end are stored together or not at all.
	FinishJob(ctx context.Context, id, owner string, change func(*Item) error, events ...outbox.Message) (Item, error)
	// FailJob records a failed attempt and ends owner's lease; the job is
	// claimable again from nextAttempt.
	FailJob(ctx context.Context, id, owner string, cause error, nextAttempt time.Time) error
	// JobDepth is how many jobs are queued, leased or not.
	JobDepth(ctx context.Context) (int64, error)
	// OldestJobAge is how long the oldest queued job has waited since it
	// was enqueued; 0 when none is.
	OldestJobAge(ctx context.Context, now time.Time) (time.Duration, error)
}
