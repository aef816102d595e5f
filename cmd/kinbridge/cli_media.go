package main

// `kinbridge media ...`: a child's photos, videos, artwork and documents,
// on the media service. Uploads go through the resumable session API: the
// file is hashed, a session is created with its size and SHA-256 (which
// the service verifies), and the bytes are streamed from the file in
// chunks. The session's name is remembered in a small state file, so a
// run that is stopped (Ctrl-C, a crash, a closed laptop) resumes from the
// service's committed offset when the same command runs again; within one
// run, a dropped connection is retried from there too.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"

	mediav1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/v1"
	"github.com/kinbridge/kinbridge/pkg/config"
	"github.com/kinbridge/kinbridge/pkg/errinfo"
	"github.com/kinbridge/kinbridge/pkg/grpcclient"
	"github.com/kinbridge/kinbridge/pkg/ratelimit"
)

// mediaCommands are `kinbridge media ...`.
var mediaCommands = []subcommand{
	{"upload", "FILE --child CHILD [--kind KIND] [--title T] [--caption C]", "upload a file with a progress bar; run it again to resume an interrupted upload (contributors)", mediaUpload},
	{"list", "CHILD | --child CHILD [--kind KIND] [--from DATE] [--to DATE]", "list a child's media, newest first", mediaList},
	{"get", "MEDIA [--output FILE [--thumbnail small|large]]", "show a media item (children/abc/media/xyz); --output downloads its bytes", mediaGet},
}

const (
	mediaAddrFlag = "media-addr"
	stateDirFlag  = "state-dir"
)

// mediaChunk is the size of the chunks an upload sends: well under the
// 4 MiB a gRPC message may carry by default, and the service commits (and
// syncs) each one, so a cut loses at most this much.
const mediaChunk = 1 << 20

var (
	mediaService   = mediav1.File_kinbridge_media_v1_media_proto.Services().ByName("MediaService")
	mediaKindEnum  = mediav1.MediaKind(0).Descriptor()
	mediaStateEnum = mediav1.MediaState(0).Descriptor()
)

// mediaAddr is --media-addr (KINBRIDGE_MEDIA_ADDR, the same setting a
// split deployment uses to say where media is), once cmd is parsed.
func mediaAddr(cmd *cmdline) *string { return &cmd.calls(mediaAPI).addr }

// mediaClient is a client of the media service: the progress client's
// token, deadline and output, on a connection to another address.
type mediaClient struct {
	*client
	api mediav1.MediaServiceClient
}

// connectMedia opens a connection to the media service at addr; like
// connect, call it only once the input is known to be good.
func connectMedia(cmd *cmdline, addr string) (*mediaClient, error) {
	token, err := cmd.bearer()
	if err != nil {
		return nil, err
	}
	conn, err := grpcclient.New(addr, grpcclient.Options{
		Timeout:  cmd.client.timeout,
		Services: []protoreflect.ServiceDescriptor{mediaService},
	})
	if err != nil {
		return nil, fmt.Errorf("--%s %q: %w", mediaAddrFlag, addr, err)
	}
	flags := cmd.client
	flags.addr, flags.token = addr, token
	return &mediaClient{
		client: &client{conn: conn, flags: flags, out: cmd.stdout},
		api:    mediav1.NewMediaServiceClient(conn),
	}, nil
}

// explain is client.explain, except that the errors about reaching the
// service name the media service and its flag.
func (m *mediaClient) explain(err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return m.client.explain(err)
	}
	switch st.Code() {
	case codes.Unavailable:
		return fmt.Errorf("cannot reach the media service at %s (--%s, %s): %s",
			m.flags.addr, mediaAddrFlag, config.EnvName(mediaAddrFlag), st.Message())
	case codes.DeadlineExceeded:
		return fmt.Errorf("no answer from the media service at %s within %s (--timeout): %s", m.flags.addr, m.flags.timeout, st.Message())
	case codes.Unimplemented:
		return fmt.Errorf("the media service at %s does not offer this yet (Unimplemented): %s", m.flags.addr, st.Message())
	}
	return m.client.explain(err)
}

// mediaCall is call for the media service.
func mediaCall[Req, Resp any](ctx context.Context, m *mediaClient, method func(context.Context, Req, ...grpc.CallOption) (Resp, error), req Req) (Resp, error) {
	ctx, cancel := m.callContext(ctx)
	defer cancel()
	resp, err := method(ctx, req)
	if err != nil {
		return resp, m.explain(err)
	}
	return resp, nil
}

// withToken adds the person's token to a context for a streaming call,
// which has no --timeout deadline of its own: a stall guard watches it.
func (m *mediaClient) withToken(ctx context.Context) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+m.flags.token)
}

// ---- upload

func mediaUpload(ctx context.Context, cmd *cmdline, args []string) error {
	addr := mediaAddr(cmd)
	stateDir := new(string)
	cmd.global.String(stateDir, stateDirFlag, "", "where unfinished uploads are remembered so they resume (default: $XDG_STATE_HOME/kinbridge/uploads, else ~/.local/state/kinbridge/uploads)")
	var child, kind, title, caption string
	var quiet bool
	cmd.local.StringVar(&child, "child", "", "the child the file is for: children/abc123 or abc123 (required)")
	cmd.local.StringVar(&kind, "kind", "", "one of "+strings.Join(enumWords(mediaKindEnum), ", ")+" (default: from the content the service sniffs: images are photos, videos videos)")
	cmd.local.StringVar(&title, "title", "", `a title, for example "Self-portrait in blue"`)
	cmd.local.StringVar(&caption, "caption", "", "a caption or story")
	cmd.local.BoolVar(&quiet, "quiet", false, "print no progress, only the result and what went wrong")
	args, err := cmd.parse(args)
	if err != nil {
		return err
	}
	if err := cmd.wantArgs(args, 1); err != nil {
		return err
	}
	if err := required("child", child); err != nil {
		return err
	}
	parent, err := childName(child)
	if err != nil {
		return err
	}
	meta := &mediav1.UploadMetadata{Parent: parent, Title: title, Caption: caption}
	if kind != "" {
		k, err := parseEnum(mediaKindEnum, "kind", kind)
		if err != nil {
			return err
		}
		meta.Kind = mediav1.MediaKind(k)
	}
	f, info, err := openUpload(args[0])
	if err != nil {
		return err
	}
	defer f.Close()
	meta.SizeBytes = info.Size()
	meta.Filename = filepath.Base(args[0])
	abs, err := filepath.Abs(args[0])
	if err != nil {
		return err
	}
	dir := *stateDir
	if dir == "" {
		if dir = defaultStateDir(); dir == "" {
			return fmt.Errorf("no directory to remember uploads in: pass --%s or set %s", stateDirFlag, config.EnvName(stateDirFlag))
		}
	}
	m, err := connectMedia(cmd, *addr)
	if err != nil {
		return err
	}
	defer m.close()
	u := &uploader{
		m: m, file: f, shown: meta.Filename, size: info.Size(), meta: meta,
		state:   uploadState{Path: abs, Size: info.Size(), ModTime: info.ModTime().UnixNano(), Child: parent},
		dir:     dir,
		meter:   newMeter(cmd.stderr, quiet),
		backoff: backoff{base: 500 * time.Millisecond, max: 15 * time.Second},
		given:   map[string]bool{"kind": cmd.given("kind"), "title": cmd.given("title"), "caption": cmd.given("caption")},
	}
	item, err := u.run(ctx)
	if err != nil {
		return err
	}
	return m.emit(item, func(w io.Writer) { mediaItemTable(w, item) })
}

// openUpload opens the file to upload and checks it is one.
func openUpload(path string) (*os.File, os.FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot read the file to upload: %w", err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	switch {
	case !info.Mode().IsRegular():
		f.Close()
		return nil, nil, fmt.Errorf("%s is not a regular file", path)
	case info.Size() == 0:
		f.Close()
		return nil, nil, fmt.Errorf("%s is empty: nothing to upload", path)
	}
	return f, info, nil
}

// defaultStateDir is where unfinished uploads are remembered: the XDG
// state directory, or the platform's cache directory where there is none.
func defaultStateDir() string {
	if d := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "kinbridge", "uploads")
	}
	if runtime.GOOS != "windows" && runtime.GOOS != "darwin" {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, ".local", "state", "kinbridge", "uploads")
		}
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "kinbridge", "uploads")
	}
	return ""
}

// uploadState is what is remembered of an unfinished upload: enough to
// find its session again, and the file's SHA-256 so a resumed run need
// not read the whole file once more before sending the rest.
type uploadState struct {
	Path    string `json:"path"`
	Size    int64  `json:"size"`
	ModTime int64  `json:"mod_time_unix_nano"`
	Child   string `json:"child"`
	Session string `json:"session,omitempty"`
	SHA256  string `json:"sha256,omitempty"`
	// ExpireTime is when the session expires unless written to; state
	// files long past it are removed.
	ExpireTime time.Time `json:"expire_time"`
}

// file is the state file of an upload: one per file path, size,
// modification time and child, so an edited file is a new upload.
func (s uploadState) file(dir string) string {
	key := strings.Join([]string{s.Path, strconv.FormatInt(s.Size, 10), strconv.FormatInt(s.ModTime, 10), s.Child}, "\x00")
	sum := sha256.Sum256([]byte(key))
	return filepath.Join(dir, hex.EncodeToString(sum[:16])+".json")
}

// same reports whether o is about the same upload as s.
func (s uploadState) same(o uploadState) bool {
	return s.Path == o.Path && s.Size == o.Size && s.ModTime == o.ModTime && s.Child == o.Child
}

// staleStateAge is how long past its session's expiry a state file is
// kept: the session is gone by then, and its file only clutters the dir.
const staleStateAge = 7 * 24 * time.Hour

// uploader runs one `media upload`.
type uploader struct {
	m       *mediaClient
	file    *os.File
	shown   string // the file's name in messages
	size    int64
	meta    *mediav1.UploadMetadata
	state   uploadState
	dir     string
	meter   *meter
	backoff backoff
	given   map[string]bool
	sent    int64 // how far the current write has sent, for messages
}

// run uploads the file, resuming a remembered session, and returns the item.
func (u *uploader) run(ctx context.Context) (*mediav1.MediaItem, error) {
	u.pruneStates()
	sess, done, err := u.resume(ctx)
	if err != nil {
		return nil, err
	}
	if done != nil {
		u.forget()
		return done, nil
	}
	if sess == nil {
		if sess, err = u.create(ctx); err != nil {
			return nil, err
		}
	}
	item, err := u.send(ctx, sess)
	if err != nil {
		return nil, err
	}
	u.forget()
	return item, nil
}

// resume looks for a remembered session of this upload: it returns the
// session to continue, or the item when the upload already finished, or
// neither when there is nothing to resume.
func (u *uploader) resume(ctx context.Context) (*mediav1.UploadSession, *mediav1.MediaItem, error) {
	b, err := os.ReadFile(u.state.file(u.dir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	var saved uploadState
	if err == nil {
		err = json.Unmarshal(b, &saved)
	}
	if err != nil || !saved.same(u.state) || saved.Session == "" || saved.SHA256 == "" {
		u.forget() // unreadable or not this upload's: start afresh
		return nil, nil, nil
	}
	u.state.Session, u.state.SHA256 = saved.Session, saved.SHA256
	u.meta.Sha256 = saved.SHA256
	sess, err := u.getSession(ctx, saved.Session)
	switch {
	case status.Code(err) == codes.NotFound:
		// Expired or canceled (a finished session is kept until it
		// expires); an earlier run may still have stored the bytes, and
		// the service keeps one item per content, so look there.
		item, ferr := u.findItem(ctx)
		if ferr != nil {
			return nil, nil, ferr
		}
		if item != nil {
			u.meter.note("%s was already uploaded as %s.", u.shown, item.GetName())
			return nil, item, nil
		}
		u.meter.note("The earlier upload of %s is gone from the media service (it expired or was canceled); starting over.", u.shown)
		u.forget()
		u.state.Session, u.state.SHA256 = "", ""
		return nil, nil, nil
	case err != nil:
		return nil, nil, u.m.explain(err)
	}
	if sess.GetMediaItem() != "" {
		// Finished by an earlier run whose answer was lost: finishing
		// again answers with the item.
		item, err := u.finish(ctx, saved.Session)
		if err != nil {
			return nil, nil, u.m.explain(err)
		}
		u.meter.note("%s was already uploaded as %s.", u.shown, item.GetName())
		return nil, item, nil
	}
	if m := sess.GetMetadata(); m.GetSizeBytes() != u.size || m.GetSha256() != saved.SHA256 {
		u.meter.note("The remembered upload session of %s is for other bytes; starting over.", u.shown)
		u.forget()
		u.state.Session, u.state.SHA256 = "", ""
		return nil, nil, nil
	}
	u.state.ExpireTime = sess.GetExpireTime().AsTime()
	_ = u.remember() // only the expiry changed, for pruning; the old file does as well
	u.noteKept(sess.GetMetadata())
	off := sess.GetCommittedOffset()
	u.meter.note("Resuming the upload of %s at %s of %s (%d%%).", u.shown, humanBytes(off), humanBytes(u.size), percentOf(off, u.size))
	return sess, nil, nil
}

// getSession asks where a session stands; the error is the call's status.
func (u *uploader) getSession(ctx context.Context, name string) (*mediav1.UploadSession, error) {
	ctx, cancel := u.m.callContext(ctx)
	defer cancel()
	return u.m.api.GetUploadSession(ctx, &mediav1.GetUploadSessionRequest{Name: name})
}

// noteKept says which of the flags given differ from what the resumed
// session was started with: a session's metadata is fixed at its start.
func (u *uploader) noteKept(m *mediav1.UploadMetadata) {
	var kept []string
	if u.given["title"] && m.GetTitle() != u.meta.GetTitle() {
		kept = append(kept, fmt.Sprintf("--title %q", m.GetTitle()))
	}
	if u.given["caption"] && m.GetCaption() != u.meta.GetCaption() {
		kept = append(kept, fmt.Sprintf("--caption %q", m.GetCaption()))
	}
	if u.given["kind"] && m.GetKind() != u.meta.GetKind() {
		kept = append(kept, "--kind "+cell(enumWord(mediaKindEnum, m.GetKind().Number())))
	}
	if len(kept) > 0 {
		u.meter.note("Note: this upload was started with %s, which it keeps.", strings.Join(kept, ", "))
	}
}

// create hashes the file and starts a session for it, remembering it.
func (u *uploader) create(ctx context.Context) (*mediav1.UploadSession, error) {
	sum, err := u.checksum(ctx)
	if err != nil {
		return nil, err
	}
	u.meta.Sha256 = sum
	sess, err := mediaCall(ctx, u.m, u.m.api.CreateUploadSession, &mediav1.CreateUploadSessionRequest{Metadata: u.meta})
	if err != nil {
		return nil, err
	}
	u.state.Session, u.state.SHA256 = sess.GetName(), sum
	u.state.ExpireTime = sess.GetExpireTime().AsTime()
	if err := u.remember(); err != nil {
		u.meter.note("Warning: cannot remember this upload, so it will not resume if stopped: %v", err)
	}
	return sess, nil
}

// checksum returns the hex SHA-256 of the file, reading it once.
func (u *uploader) checksum(ctx context.Context) (string, error) {
	u.meter.start("Checking "+u.shown, u.size, 0, false)
	h := sha256.New()
	buf := make([]byte, mediaChunk)
	var n int64
	for n < u.size {
		if err := ctx.Err(); err != nil {
			u.meter.stop()
			return "", errors.New("interrupted before the upload began")
		}
		k, err := u.file.ReadAt(buf[:min(int64(len(buf)), u.size-n)], n)
		h.Write(buf[:k])
		n += int64(k)
		u.meter.set(n)
		if err != nil && !(errors.Is(err, io.EOF) && n == u.size) {
			u.meter.stop()
			return "", fmt.Errorf("reading %s: %w", u.shown, fileChanged(err))
		}
	}
	u.meter.stop()
	return hex.EncodeToString(h.Sum(nil)), nil
}

// fileChanged names the likely cause of a short read of the file.
func fileChanged(err error) error {
	if errors.Is(err, io.EOF) {
		return errors.New("the file got shorter while it was read")
	}
	return err
}

// remember writes the state file, atomically: a crash never leaves half a file.
func (u *uploader) remember() error {
	if err := os.MkdirAll(u.dir, 0o700); err != nil {
		return err
	}
	b, err := json.MarshalIndent(u.state, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(u.dir, ".upload-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), u.state.file(u.dir))
}

// forget removes the state file.
func (u *uploader) forget() {
	if err := os.Remove(u.state.file(u.dir)); err != nil && !errors.Is(err, os.ErrNotExist) {
		u.meter.note("Warning: %v", err)
	}
}

// pruneStates removes state files of sessions long expired.
func (u *uploader) pruneStates() {
	entries, err := os.ReadDir(u.dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		path := filepath.Join(u.dir, e.Name())
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		var s uploadState
		if json.Unmarshal(b, &s) == nil && !s.ExpireTime.IsZero() && time.Since(s.ExpireTime) > staleStateAge {
			os.Remove(path)
		}
	}
}

// maxStalls is how many attempts in a row may fail without moving the
// upload forward before the command gives up.
const maxStalls = 8

// send writes the file from the session's committed offset and finishes
// the session. A dropped connection, a stall or a busy session is retried
// with backoff from wherever the service says the upload stands.
func (u *uploader) send(ctx context.Context, sess *mediav1.UploadSession) (*mediav1.MediaItem, error) {
	name := sess.GetName()
	offset := sess.GetCommittedOffset()
	u.meter.start("Uploading "+u.shown, u.size, offset, true)
	defer u.meter.stop()
	finishing := false // a finish was sent: the session may be gone because it worked
	stalls := 0
	for {
		var err error
		if offset < u.size {
			var committed int64
			if committed, err = u.write(ctx, name, offset); err == nil {
				offset = committed
				continue
			}
		} else {
			if !finishing && u.size >= bigUpload {
				u.meter.note("All %s sent; the media service is checking and storing them.", humanBytes(u.size))
			}
			finishing = true
			var item *mediav1.MediaItem
			if item, err = u.finish(ctx, name); err == nil {
				return item, nil
			}
		}
		switch {
		case ctx.Err() != nil:
			return nil, u.interrupted(ctx, name)
		case status.Code(err) == codes.NotFound:
			return u.gone(ctx, name, err)
		case refused(err):
			return nil, u.refusedError(ctx, name, err)
		case !uploadRetryable(err):
			return nil, u.stopped(ctx, name, err)
		}
		what := "Upload interrupted after sending " + humanBytes(u.sent) + " of " + humanBytes(u.size)
		if finishing {
			what = "Finishing the upload failed"
		}
		// Wait, then ask where the upload stands, until the service says.
		for {
			if stalls++; stalls > maxStalls {
				return nil, fmt.Errorf("%w\nGave up after %d attempts in a row. %s", u.m.explain(err), maxStalls, u.resumeHint(ctx, name))
			}
			delay := u.backoff.next()
			if after, ok := ratelimit.RetryDelay(err); ok && after > delay {
				delay = after // a rate limit says when a retry can pass
			}
			u.meter.note("%s: %v. Trying again in %s.", what, u.m.explain(err), delay.Round(10*time.Millisecond))
			t := time.NewTimer(delay)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, u.interrupted(ctx, name)
			case <-t.C:
			}
			// The connection keeps its own, longer, reconnection backoff;
			// this loop decides when to try.
			u.m.conn.ResetConnectBackoff()
			var cur *mediav1.UploadSession
			cur, err = u.getSession(ctx, name)
			switch {
			case err == nil:
				if cur.GetCommittedOffset() > offset {
					u.backoff.reset()
					stalls = 0
				}
				offset = cur.GetCommittedOffset()
				if !finishing {
					u.meter.note("The media service has %s of %s; continuing from there.", humanBytes(offset), humanBytes(u.size))
				}
				u.meter.set(offset)
			case ctx.Err() != nil:
				return nil, u.interrupted(ctx, name)
			case status.Code(err) == codes.NotFound:
				return u.gone(ctx, name, err)
			case !uploadRetryable(err):
				return nil, u.stopped(ctx, name, err)
			}
			if err == nil {
				break
			}
			what = "Still no answer about the upload"
		}
	}
}

// bigUpload is the size from which line mode says how an upload goes:
// smaller ones are done before anyone could read it.
const bigUpload = 4 * mediaChunk

// gone handles a session that no longer exists: a finish whose answer was
// lost made it an item, or it expired or was canceled.
func (u *uploader) gone(ctx context.Context, name string, err error) (*mediav1.MediaItem, error) {
	item, ferr := u.findItem(ctx)
	if ferr != nil {
		return nil, ferr
	}
	if item != nil {
		return item, nil
	}
	u.forget()
	return nil, fmt.Errorf("%w\nThe upload session %s is gone (it expired or was canceled): run the same command again to start over", u.m.explain(err), name)
}

// write streams the file from offset to its end into the session and
// returns the committed offset the service answers with.
func (u *uploader) write(ctx context.Context, name string, offset int64) (int64, error) {
	sctx, guard := newStallGuard(u.m.withToken(ctx), u.m.flags.timeout)
	defer guard.stop()
	stream, err := u.m.api.WriteUploadSession(sctx)
	if err != nil {
		return 0, guard.explain(err)
	}
	if err := stream.Send(&mediav1.WriteUploadSessionRequest{Part: &mediav1.WriteUploadSessionRequest_Start{
		Start: &mediav1.WriteStart{Name: name, Offset: offset}}}); err != nil {
		_, err := stream.CloseAndRecv()
		return 0, guard.explain(err)
	}
	sent := offset
	u.sent = sent
	for sent < u.size {
		// A fresh buffer per message: gRPC may still read a sent message
		// (stats handlers, tracing), so it must not change after Send.
		buf := make([]byte, min(mediaChunk, u.size-sent))
		n, rerr := u.file.ReadAt(buf, sent)
		if rerr != nil && !(errors.Is(rerr, io.EOF) && sent+int64(n) == u.size) {
			guard.stop() // ends the stream: what is committed stays
			return 0, localError{fmt.Errorf("reading %s: %w", u.shown, fileChanged(rerr))}
		}
		if err := stream.Send(&mediav1.WriteUploadSessionRequest{Part: &mediav1.WriteUploadSessionRequest_Chunk{Chunk: buf[:n]}}); err != nil {
			break // the service refused or went away: CloseAndRecv says which
		}
		guard.kick()
		sent += int64(n)
		u.sent = sent
		u.meter.set(sent)
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		return 0, guard.explain(err)
	}
	return resp.GetCommittedOffset(), nil
}

// finish completes the session. The service hashes, checks and stores
// the whole file, which takes far longer than a quick call for a big one.
func (u *uploader) finish(ctx context.Context, name string) (*mediav1.MediaItem, error) {
	const slowDisk = 8 << 20 // bytes per second
	ctx, cancel := context.WithTimeout(u.m.withToken(ctx), u.m.flags.timeout+time.Duration(u.size/slowDisk)*time.Second)
	defer cancel()
	return u.m.api.FinishUploadSession(ctx, &mediav1.FinishUploadSessionRequest{Name: name})
}

// localError is a failure on this side (reading the file): no retry helps.
type localError struct{ error }

// refused reports whether the service refused the content itself (its
// type, size or checksum): running the command again cannot help.
func refused(err error) bool {
	switch status.Code(err) {
	case codes.InvalidArgument, codes.OutOfRange:
		return true
	}
	return false
}

// uploadRetryable reports whether a failed write or finish is worth trying
// again from the committed offset: a lost or stalled connection, a session
// still busy with a write the service has not yet seen end, or a write
// that started from an offset the service has moved past.
func uploadRetryable(err error) bool {
	if _, ok := err.(localError); ok {
		return false
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Aborted, codes.Canceled, codes.ResourceExhausted:
		return true
	case codes.FailedPrecondition:
		// FINISHED: an earlier finish whose answer was lost made it an
		// item; asking where the session stands leads to finishing again,
		// which answers with that item.
		r := errinfo.MediaReason(err)
		return r == mediav1.ErrorReason_ERROR_REASON_OFFSET_MISMATCH || r == mediav1.ErrorReason_ERROR_REASON_FINISHED
	}
	return false
}

// errorReason returns the ErrorInfo reason of a status error, if any.
func errorReason(err error) string {
	st, ok := status.FromError(err)
	if !ok {
		return ""
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.GetReason()
		}
	}
	return ""
}

// refusedError cancels a session whose content the service refused, so
// its bytes go now rather than at expiry, and says why.
func (u *uploader) refusedError(ctx context.Context, name string, err error) error {
	u.forget()
	cctx, cancel := u.m.callContext(context.WithoutCancel(ctx))
	defer cancel()
	if _, cerr := u.m.api.CancelUploadSession(cctx, &mediav1.CancelUploadSessionRequest{Name: name}); cerr != nil && status.Code(cerr) != codes.NotFound {
		u.meter.note("Warning: canceling the refused upload: %v", u.m.explain(cerr))
	}
	msg := u.m.explain(err)
	if errinfo.MediaReason(err) == mediav1.ErrorReason_ERROR_REASON_CHECKSUM_MISMATCH {
		return fmt.Errorf("%w: %s changed while it was uploaded; upload it again", msg, u.shown)
	}
	return fmt.Errorf("the media service refused %s: %w", u.shown, msg)
}

// stopped explains an error no retry fixes; the state file stays, so the
// upload resumes once the cause is fixed (a fresh token, say).
func (u *uploader) stopped(ctx context.Context, name string, err error) error {
	if le, ok := err.(localError); ok {
		return le.error
	}
	return fmt.Errorf("%w\n%s", u.m.explain(err), u.resumeHint(ctx, name))
}

// interrupted is the error of a run stopped by Ctrl-C or SIGTERM.
func (u *uploader) interrupted(ctx context.Context, name string) error {
	return fmt.Errorf("interrupted. %s", u.resumeHint(ctx, name))
}

// resumeHint says how much the service has, when it answers at once, and
// how to go on.
func (u *uploader) resumeHint(ctx context.Context, name string) string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if sess, err := u.getSession(ctx, name); err == nil {
		return fmt.Sprintf("The media service has %s of %s of %s; run the same command again to resume.",
			humanBytes(sess.GetCommittedOffset()), humanBytes(u.size), u.shown)
	}
	return "Run the same command again to resume where it stopped."
}

// findItem returns the child's item whose original SHA-256 is the
// file's, or nil: the service stores the same bytes once per child, so it is the
// item a finished upload of this file became.
func (u *uploader) findItem(ctx context.Context) (*mediav1.MediaItem, error) {
	sum := u.state.SHA256
	var found *mediav1.MediaItem
	_, err := listAll(ctx, func(ctx context.Context, token string) ([]*mediav1.MediaItem, string, error) {
		resp, err := mediaCall(ctx, u.m, u.m.api.ListMediaItems, &mediav1.ListMediaItemsRequest{Parent: u.state.Child, PageSize: 1000, PageToken: token})
		if err != nil {
			return nil, "", err
		}
		for _, it := range resp.GetMediaItems() {
			if it.GetOriginalSha256() == sum {
				found = it
				return nil, "", nil
			}
		}
		return nil, resp.GetNextPageToken(), nil
	})
	return found, err
}

// stallGuard cancels a stream that makes no progress for a while: a
// connection that silently stopped carrying bytes never fails by itself.
type stallGuard struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	timer  *time.Timer
	limit  time.Duration
}

var errStalled = errors.New("stalled")

func newStallGuard(ctx context.Context, limit time.Duration) (context.Context, *stallGuard) {
	ctx, cancel := context.WithCancelCause(ctx)
	g := &stallGuard{ctx: ctx, cancel: cancel, limit: limit}
	g.timer = time.AfterFunc(limit, func() { cancel(errStalled) })
	return ctx, g
}

// kick says the stream moved.
func (g *stallGuard) kick() { g.timer.Reset(g.limit) }

func (g *stallGuard) stop() {
	g.timer.Stop()
	g.cancel(context.Canceled)
}

// explain turns the cancellation of a stalled stream into what it is.
func (g *stallGuard) explain(err error) error {
	if errors.Is(context.Cause(g.ctx), errStalled) {
		return status.Errorf(codes.DeadlineExceeded, "no progress for %s", g.limit)
	}
	return err
}

// ---- list and get

func mediaList(ctx context.Context, cmd *cmdline, args []string) error {
	addr := mediaAddr(cmd)
	var child, kind, from, to string
	var pageSize int
	cmd.local.StringVar(&child, "child", "", "the child, instead of the CHILD argument")
	cmd.local.StringVar(&kind, "kind", "", "only this kind: one of "+strings.Join(enumWords(mediaKindEnum), ", "))
	cmd.local.StringVar(&from, "from", "", "only items uploaded on or after this day, YYYY-MM-DD (UTC)")
	cmd.local.StringVar(&to, "to", "", "only items uploaded on or before this day, YYYY-MM-DD (UTC)")
	cmd.local.IntVar(&pageSize, "page-size", 1000, "how many items to fetch per call, 1 to 1000")
	args, err := cmd.parse(args)
	if err != nil {
		return err
	}
	switch {
	case child != "" && len(args) > 0:
		return usagef("give the child as an argument or with --child, not both\n%s", cmd.usageLine())
	case child == "":
		if err := cmd.wantArgs(args, 1); err != nil {
			return err
		}
		child = args[0]
	}
	parent, err := childName(child)
	if err != nil {
		return err
	}
	var k protoreflect.EnumNumber
	if kind != "" {
		if k, err = parseEnum(mediaKindEnum, "kind", kind); err != nil {
			return err
		}
	}
	if err := checkWindow(from, to); err != nil {
		return err
	}
	if err := checkPageSize(pageSize); err != nil {
		return err
	}
	m, err := connectMedia(cmd, *addr)
	if err != nil {
		return err
	}
	defer m.close()
	all, err := listAll(ctx, func(ctx context.Context, token string) ([]*mediav1.MediaItem, string, error) {
		resp, err := mediaCall(ctx, m, m.api.ListMediaItems, &mediav1.ListMediaItemsRequest{
			Parent: parent, Kind: mediav1.MediaKind(k), StartDate: from, EndDate: to, PageSize: int32(pageSize), PageToken: token})
		return resp.GetMediaItems(), resp.GetNextPageToken(), err
	})
	if err != nil {
		return err
	}
	return m.emit(&mediav1.ListMediaItemsResponse{MediaItems: all}, func(w io.Writer) {
		if len(all) == 0 {
			fmt.Fprintln(w, "No media.")
			return
		}
		row(w, "NAME", "KIND", "TITLE", "TYPE", "SIZE", "STATE", "UPLOADED")
		for _, it := range all {
			row(w, it.GetName(), enumWord(mediaKindEnum, it.GetKind().Number()), it.GetTitle(), it.GetContentType(),
				humanBytes(it.GetSizeBytes()), enumWord(mediaStateEnum, it.GetState().Number()), when(it.GetCreateTime()))
		}
	})
}

var mediaNameRE = regexp.MustCompile(`^children/[a-z0-9]{1,63}/media/[a-z0-9]{1,63}$`)

func mediaGet(ctx context.Context, cmd *cmdline, args []string) error {
	addr := mediaAddr(cmd)
	var output, thumbnail string
	cmd.local.StringVar(&output, "output", "", "download the item's bytes to this file (- for standard output)")
	cmd.local.StringVar(&thumbnail, "thumbnail", "", "with --output, download this thumbnail instead: small or large")
	args, err := cmd.parse(args)
	if err != nil {
		return err
	}
	if err := cmd.wantArgs(args, 1); err != nil {
		return err
	}
	name := args[0]
	if !mediaNameRE.MatchString(name) {
		return usagef("%q is not a media item: give its name (children/abc123/media/xyz789) as 'kinbridge media list' shows it", name)
	}
	if thumbnail != "" && output == "" {
		return usagef("--thumbnail needs --output: it says which bytes to download")
	}
	if thumbnail != "" && thumbnail != "small" && thumbnail != "large" {
		return usagef("--thumbnail %q is not one of small, large", thumbnail)
	}
	m, err := connectMedia(cmd, *addr)
	if err != nil {
		return err
	}
	defer m.close()
	if output == "" {
		item, err := mediaCall(ctx, m, m.api.GetMediaItem, &mediav1.GetMediaItemRequest{Name: name})
		if err != nil {
			return err
		}
		return m.emit(item, func(w io.Writer) { mediaItemTable(w, item) })
	}
	d := &downloader{m: m, name: name, thumbnail: thumbnail, stderr: cmd.stderr,
		backoff: backoff{base: 500 * time.Millisecond, max: 15 * time.Second}}
	if output == "-" {
		_, _, err := d.run(ctx, cmd.stdout)
		return err
	}
	item, n, err := d.toFile(ctx, output)
	if err != nil {
		return err
	}
	return m.emit(item, func(w io.Writer) {
		mediaItemTable(w, item)
		what := output
		if thumbnail != "" {
			what += " (the " + thumbnail + " thumbnail)"
		}
		row(w, "Saved to", fmt.Sprintf("%s, %s", what, humanBytes(n)))
	})
}

// downloader reads an item's bytes with ReadMediaContent, resuming from
// the bytes it has after a dropped connection.
type downloader struct {
	m         *mediaClient
	name      string
	thumbnail string
	stderr    io.Writer
	backoff   backoff
}

// toFile downloads into a temporary file next to path and renames it into
// place once complete, so path never holds half a download.
func (d *downloader) toFile(ctx context.Context, path string) (*mediav1.MediaItem, int64, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".*.part")
	if err != nil {
		return nil, 0, fmt.Errorf("--output: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	item, n, err := d.run(ctx, tmp)
	if cerr := tmp.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return nil, 0, err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return nil, 0, fmt.Errorf("--output: %w", err)
	}
	return item, n, nil
}

// run copies the bytes to w and returns the item with how many were
// copied. The item's own bytes are checked against its content_sha256.
func (d *downloader) run(ctx context.Context, w io.Writer) (*mediav1.MediaItem, int64, error) {
	h := sha256.New()
	var item *mediav1.MediaItem
	var n int64
	stalls := 0
	for {
		got, first, err := d.read(ctx, io.MultiWriter(w, h), n)
		if item == nil {
			item = first
		}
		if got > 0 {
			stalls = 0
			d.backoff.reset()
		}
		n += got
		if err == nil {
			break
		}
		if _, ok := err.(localError); ok {
			return nil, n, err
		}
		if ctx.Err() != nil {
			return nil, n, errors.New("interrupted")
		}
		stalls++
		code := status.Code(err)
		if (code != codes.Unavailable && code != codes.DeadlineExceeded && code != codes.Aborted && code != codes.Canceled) || stalls > maxStalls {
			return nil, n, d.m.explain(err)
		}
		delay := d.backoff.next()
		fmt.Fprintf(d.stderr, "Download interrupted after %s: %v. Trying again in %s.\n", humanBytes(n), d.m.explain(err), delay.Round(10*time.Millisecond))
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, n, errors.New("interrupted")
		case <-t.C:
		}
		d.m.conn.ResetConnectBackoff()
	}
	if d.thumbnail == "" {
		if item.GetSizeBytes() != n {
			return nil, n, fmt.Errorf("received %d bytes of %s, which has %d", n, d.name, item.GetSizeBytes())
		}
		if sum := hex.EncodeToString(h.Sum(nil)); item.GetContentSha256() != "" && sum != item.GetContentSha256() {
			return nil, n, fmt.Errorf("the bytes received for %s have SHA-256 %s, not its content_sha256 %s", d.name, sum, item.GetContentSha256())
		}
	}
	return item, n, nil
}

// read streams the bytes from offset to w; it returns how many it wrote
// and the item the stream's first message carries.
func (d *downloader) read(ctx context.Context, w io.Writer, offset int64) (int64, *mediav1.MediaItem, error) {
	sctx, guard := newStallGuard(d.m.withToken(ctx), d.m.flags.timeout)
	defer guard.stop()
	stream, err := d.m.api.ReadMediaContent(sctx, &mediav1.ReadMediaContentRequest{Name: d.name, Thumbnail: d.thumbnail, Offset: offset})
	if err != nil {
		return 0, nil, guard.explain(err)
	}
	var item *mediav1.MediaItem
	var n int64
	for {
		msg, err := stream.Recv()
		if err == io.EOF {
			return n, item, nil
		}
		if err != nil {
			return n, item, guard.explain(err)
		}
		guard.kick()
		if item == nil {
			item = msg.GetMediaItem()
		}
		k, err := w.Write(msg.GetData())
		n += int64(k)
		if err != nil {
			return n, item, localError{fmt.Errorf("writing the download: %w", err)}
		}
	}
}

// ---- output

// mediaItemTable shows one item, a field per line.
func mediaItemTable(w io.Writer, it *mediav1.MediaItem) {
	row(w, "Name", it.GetName())
	row(w, "Kind", enumWord(mediaKindEnum, it.GetKind().Number()))
	row(w, "Title", it.GetTitle())
	row(w, "Caption", it.GetCaption())
	row(w, "Type", it.GetContentType())
	size := humanBytes(it.GetSizeBytes())
	if it.GetSizeBytes() >= 1024 {
		size += fmt.Sprintf(" (%d bytes)", it.GetSizeBytes())
	}
	row(w, "Size", size)
	dims := ""
	if it.GetWidth() > 0 && it.GetHeight() > 0 {
		dims = fmt.Sprintf("%dx%d", it.GetWidth(), it.GetHeight())
	}
	row(w, "Dimensions", dims)
	duration := ""
	if it.GetDuration() != nil {
		duration = it.GetDuration().AsDuration().Round(time.Millisecond).String()
	}
	row(w, "Duration", duration)
	row(w, "Taken", when(it.GetTakenTime()))
	row(w, "State", enumWord(mediaStateEnum, it.GetState().Number()))
	if it.GetFailureReason() != "" {
		row(w, "Failure", it.GetFailureReason())
	}
	var thumbs []string
	for _, t := range it.GetThumbnails() {
		thumbs = append(thumbs, fmt.Sprintf("%s %dx%d", t.GetSize(), t.GetWidth(), t.GetHeight()))
	}
	row(w, "Thumbnails", strings.Join(thumbs, ", "))
	row(w, "Original SHA-256", it.GetOriginalSha256())
	row(w, "Content SHA-256", it.GetContentSha256())
	row(w, "Uploaded by", it.GetUploadedBy())
	row(w, "Uploaded", when(it.GetCreateTime()))
	row(w, "Etag", it.GetEtag())
}

// humanBytes shows a size in binary units: 298 B, 3.5 KiB, 1.0 GiB.
func humanBytes(n int64) string {
	if n < 1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	v, unit := float64(n)/1024, 0
	for v >= 1024 && unit < 4 {
		v /= 1024
		unit++
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + " " + [...]string{"KiB", "MiB", "GiB", "TiB", "PiB"}[unit]
}

// percentOf is n of total in whole percent, rounded down: 100 only when done.
func percentOf(n, total int64) int {
	if total <= 0 {
		return 100
	}
	return int(n * 100 / total)
}

// meter shows how a long transfer goes, on stderr. On a terminal it is a
// bar redrawn in place (bytes, percent, rate, time left); otherwise, for
// logs and scripts, a line at every tenth of the way, which is the same on
// every run.
type meter struct {
	w     io.Writer
	tty   bool
	quiet bool

	label   string
	total   int64
	done    int64
	active  bool
	steps   bool
	drawn   time.Time
	step    int // the last tenth printed, in line mode
	samples []sample
}

type sample struct {
	at time.Time
	n  int64
}

// rateWindow is how far back the rate looks: long enough to be steady,
// short enough to follow a connection that slows down.
const rateWindow = 5 * time.Second

func newMeter(w io.Writer, quiet bool) *meter {
	return &meter{w: w, tty: isTerminal(w), quiet: quiet}
}

// isTerminal reports whether w is a terminal that can redraw a line.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("TERM") == "dumb" {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

// start begins a transfer of total bytes, from done (a resumed upload);
// steps says whether line mode prints a line every tenth of the way (for
// big transfers only).
func (m *meter) start(label string, total, done int64, steps bool) {
	*m = meter{w: m.w, tty: m.tty, quiet: m.quiet, label: label, total: total, done: done, active: true,
		steps: steps && total >= bigUpload, step: percentOf(done, total) / 10}
	m.samples = []sample{{time.Now(), done}}
	if !m.tty && !m.quiet && total >= bigUpload && done == 0 {
		fmt.Fprintf(m.w, "%s: %s\n", label, humanBytes(total))
	}
}

// set records that n bytes are done and shows it when due.
func (m *meter) set(n int64) {
	if !m.active {
		return
	}
	now := time.Now()
	if n < m.done { // a retry starts again from the committed offset
		m.samples = m.samples[:0]
	}
	m.done = n
	m.samples = append(m.samples, sample{now, n})
	for len(m.samples) > 2 && now.Sub(m.samples[0].at) > rateWindow {
		m.samples = m.samples[1:]
	}
	if m.quiet {
		return
	}
	if m.tty {
		if now.Sub(m.drawn) >= 100*time.Millisecond || n == m.total {
			m.draw(now)
		}
		return
	}
	if pct := percentOf(n, m.total); m.steps && pct/10 > m.step {
		m.step = pct / 10
		fmt.Fprintf(m.w, "%s: %d%% (%s of %s)\n", m.label, pct, humanBytes(n), humanBytes(m.total))
	}
}

// draw redraws the bar: "  42% [#####-------] 430.1 MiB / 1.0 GiB  12.3 MiB/s  ETA 47s".
func (m *meter) draw(now time.Time) {
	m.drawn = now
	const width = 24
	pct := percentOf(m.done, m.total)
	fill := width * pct / 100
	rate, eta := "", ""
	if first := m.samples[0]; len(m.samples) > 1 && now.Sub(first.at) > 0 {
		bps := float64(m.done-first.n) / now.Sub(first.at).Seconds()
		if bps > 0 {
			rate = humanBytes(int64(bps)) + "/s"
			eta = "ETA " + time.Duration(float64(m.total-m.done)/bps*float64(time.Second)).Round(time.Second).String()
		}
	}
	fmt.Fprintf(m.w, "\r\x1b[K%s %3d%% [%s%s] %s / %s  %s  %s", m.label, pct,
		strings.Repeat("#", fill), strings.Repeat("-", width-fill), humanBytes(m.done), humanBytes(m.total), rate, eta)
}

// note prints a message on a line of its own, above the bar.
func (m *meter) note(format string, args ...any) {
	if m.tty && m.active && !m.quiet {
		fmt.Fprint(m.w, "\r\x1b[K")
		defer m.draw(time.Now())
	}
	fmt.Fprintf(m.w, format+"\n", args...)
}

// stop ends the bar's line, as last drawn: a redraw now would count
// the time since (the service storing the upload, say) against the rate.
func (m *meter) stop() {
	if m.tty && m.active && !m.quiet && !m.drawn.IsZero() {
		fmt.Fprintln(m.w)
	}
	m.active = false
}
