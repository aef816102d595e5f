package main

// `kinbridge media ...`: a child's photos, videos, artwork and documents,
// on the media service. Uploads and downloads are the SDK's (client/):
// an upload hashes the file, starts a resumable session and streams the
// bytes, retrying a dropped connection from the service's committed
// offset; the session's name is remembered in a small state file, so a run
// that is stopped (Ctrl-C, a crash, a closed laptop) resumes when the same
// command runs again. This file turns what they report into what a person
// reads.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"

	sdk "github.com/kinbridge/kinbridge/client"
	mediav1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/v1"
	"github.com/kinbridge/kinbridge/pkg/config"
	"github.com/kinbridge/kinbridge/pkg/names"
	"github.com/kinbridge/kinbridge/pkg/upload"
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

var (
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
	c, err := cmd.dial(mediaAddrFlag, addr)
	if err != nil {
		return nil, err
	}
	return &mediaClient{client: c, api: c.sdk.Media()}, nil
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
	f, err := openUpload(args[0])
	if err != nil {
		return err
	}
	defer f.Close()
	dir := *stateDir
	if dir == "" {
		if dir = sdk.DefaultStateDir(); dir == "" {
			return fmt.Errorf("no directory to remember uploads in: pass --%s or set %s", stateDirFlag, config.EnvName(stateDirFlag))
		}
	}
	m, err := connectMedia(cmd, *addr)
	if err != nil {
		return err
	}
	defer m.close()
	u := &uploadView{m: m, shown: filepath.Base(args[0]), meta: meta, meter: newMeter(cmd.stderr, quiet),
		given: map[string]bool{"kind": cmd.given("kind"), "title": cmd.given("title"), "caption": cmd.given("caption")}}
	item, err := m.sdk.UploadFile(ctx, f, meta, sdk.UploadOptions{StateDir: dir, Progress: u.progress, Events: u.event})
	u.meter.stop()
	if err != nil {
		return u.explain(ctx, err)
	}
	return m.emit(item, func(w io.Writer) { mediaItemTable(w, item) })
}

// openUpload opens the file to upload and checks it is one, before any
// call: bad input never reaches the service.
func openUpload(path string) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read the file to upload: %w", err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	switch {
	case !info.Mode().IsRegular():
		f.Close()
		return nil, fmt.Errorf("%s is not a regular file", path)
	case info.Size() == 0:
		f.Close()
		return nil, fmt.Errorf("%s is empty: nothing to upload", path)
	}
	return f, nil
}

// bigUpload is the size from which line mode says how an upload goes:
// smaller ones are done before anyone could read it.
const bigUpload = 4 * upload.ChunkSize

// uploadView shows one `media upload` as it goes, on stderr.
type uploadView struct {
	m     *mediaClient
	shown string // the file's name in messages
	meta  *mediav1.UploadMetadata
	meter *meter
	given map[string]bool
	phase sdk.UploadPhase
}

// progress drives the meter: a bar (or lines) per phase.
func (u *uploadView) progress(p sdk.UploadProgress) {
	if p.Phase != u.phase {
		u.meter.stop()
		u.phase = p.Phase
		if p.Phase == sdk.PhaseHashing {
			u.meter.start("Checking "+u.shown, p.Total, p.Done, false)
		} else {
			u.meter.start("Uploading "+u.shown, p.Total, p.Done, true)
		}
		return
	}
	u.meter.set(p.Done)
}

// event says what happened, above the bar.
func (u *uploadView) event(e sdk.UploadEvent) {
	switch e.Kind {
	case sdk.EventResumed:
		u.noteKept(e.Session.GetMetadata())
		u.meter.note("Resuming the upload of %s at %s of %s (%d%%).", u.shown, humanBytes(e.Offset), humanBytes(e.Size), percentOf(e.Offset, e.Size))
	case sdk.EventAlreadyUploaded:
		u.meter.note("%s was already uploaded as %s.", u.shown, e.Item.GetName())
	case sdk.EventSessionGone:
		u.meter.note("The earlier upload of %s is gone from the media service (it expired or was canceled); starting over.", u.shown)
	case sdk.EventSessionMismatch:
		u.meter.note("The remembered upload session of %s is for other bytes; starting over.", u.shown)
	case sdk.EventRetrying:
		what := "Upload interrupted after sending " + humanBytes(e.Sent) + " of " + humanBytes(e.Size)
		switch {
		case e.StillNoAnswer:
			what = "Still no answer about the upload"
		case e.Finishing:
			what = "Finishing the upload failed"
		}
		u.meter.note("%s: %v. Trying again in %s.", what, u.m.explain(e.Err), e.Delay.Round(10*time.Millisecond))
	case sdk.EventContinuing:
		u.meter.note("The media service has %s of %s; continuing from there.", humanBytes(e.Offset), humanBytes(e.Size))
	case sdk.EventAllSent:
		if e.Size >= bigUpload {
			u.meter.note("All %s sent; the media service is checking and storing them.", humanBytes(e.Size))
		}
	case sdk.EventWarning:
		u.meter.note("Warning: %v", e.Err)
	}
}

// noteKept says which of the flags given differ from what the resumed
// session was started with: a session's metadata is fixed at its start.
func (u *uploadView) noteKept(m *mediav1.UploadMetadata) {
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

// explain turns an upload's failure into what the person reads, with how
// to go on.
func (u *uploadView) explain(ctx context.Context, err error) error {
	var refused *sdk.RefusedError
	var stopped *sdk.UploadError
	switch {
	case errors.As(err, &refused):
		msg := u.m.explain(refused)
		if refused.IsChecksumMismatch() {
			return fmt.Errorf("%w: %s changed while it was uploaded; upload it again", msg, u.shown)
		}
		return fmt.Errorf("the media service refused %s: %w", u.shown, msg)
	case errors.As(err, &stopped):
		hint := "Run the same command again to resume where it stopped."
		if stopped.Committed >= 0 {
			hint = fmt.Sprintf("The media service has %s of %s of %s; run the same command again to resume.",
				humanBytes(stopped.Committed), humanBytes(stopped.Size), u.shown)
		}
		switch {
		case ctx.Err() != nil && stopped.Session == "":
			return errors.New("interrupted before the upload began")
		case ctx.Err() != nil:
			return fmt.Errorf("interrupted. %s", hint)
		case stopped.Gone:
			return fmt.Errorf("%w\nThe upload session %s is gone (it expired or was canceled): run the same command again to start over", u.m.explain(stopped.Err), stopped.Session)
		case stopped.Attempts > 0:
			return fmt.Errorf("%w\nGave up after %d attempts in a row. %s", u.m.explain(stopped.Err), stopped.Attempts, hint)
		}
		return fmt.Errorf("%w\n%s", u.m.explain(stopped.Err), hint)
	}
	if _, ok := status.FromError(err); ok {
		return u.m.explain(err)
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
	if _, err := names.ParseMediaItem(name); err != nil {
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
	opts := sdk.DownloadOptions{Thumbnail: thumbnail, Retrying: func(n int64, err error, delay time.Duration) {
		fmt.Fprintf(cmd.stderr, "Download interrupted after %s: %v. Trying again in %s.\n", humanBytes(n), m.explain(err), delay.Round(10*time.Millisecond))
	}}
	if output == "-" {
		_, _, err := m.download(ctx, name, cmd.stdout, opts)
		return err
	}
	item, n, err := m.toFile(ctx, name, output, opts)
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

// toFile downloads into a temporary file next to path and renames it into
// place once complete, so path never holds half a download.
func (m *mediaClient) toFile(ctx context.Context, name, path string, opts sdk.DownloadOptions) (*mediav1.MediaItem, int64, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".*.part")
	if err != nil {
		return nil, 0, fmt.Errorf("--output: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	item, n, err := m.download(ctx, name, tmp, opts)
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

// download is the SDK's download, its failures explained.
func (m *mediaClient) download(ctx context.Context, name string, w io.Writer, opts sdk.DownloadOptions) (*mediav1.MediaItem, int64, error) {
	item, n, err := m.sdk.Download(ctx, name, w, opts)
	switch {
	case err == nil:
		return item, n, nil
	case ctx.Err() != nil:
		return nil, n, errors.New("interrupted")
	}
	if _, ok := status.FromError(err); ok {
		return nil, n, m.explain(err)
	}
	return nil, n, err
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
