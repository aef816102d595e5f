package thumb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// stderrTail is how much of a program's stderr an error quotes: the last
// lines are the ones that say what went wrong.
const stderrTail = 1 << 10

// stderrLines bounds the lines of stderr an error quotes, so that a log
// line stays readable when a decoder complains about every frame.
const stderrLines = 4

// waitDelay bounds how long Wait lingers for output pipes after the program
// is killed, in case it left a child holding them open.
const waitDelay = 2 * time.Second

func lookPath(name string) string {
	p, err := exec.LookPath(name)
	if err != nil {
		return ""
	}
	return p
}

// run executes prog with args (never through a shell) in dir (the current
// one when empty), bounded by ctx and the tool timeout, and returns its
// stdout, refusing more than maxOut bytes. A failure quotes the end of
// stderr.
func (j *job) run(name, prog, dir string, args []string, maxOut int64) ([]byte, error) {
	parent := j.ctx
	ctx, cancel := context.WithTimeout(parent, j.opt.toolTimeout)
	defer cancel()
	ctx, span := j.opt.tracer.Start(ctx, "thumb.exec", trace.WithAttributes(attrProgram.String(name)))
	defer span.End()

	stdout := &cappedBuffer{max: maxOut}
	stderr := &tailBuffer{max: stderrTail}
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.WaitDelay = waitDelay
	err := cmd.Run()
	switch {
	case parent.Err() != nil:
		err = fmt.Errorf("thumb: %s: %w", name, context.Cause(parent))
	case ctx.Err() != nil:
		err = fmt.Errorf("thumb: %s timed out after %v: %w", name, j.opt.toolTimeout, context.DeadlineExceeded)
	case stdout.overflow:
		err = fmt.Errorf("thumb: %s wrote more than %d bytes", name, maxOut)
	case err != nil:
		if msg := stderr.lastLines(stderrLines); msg != "" {
			err = fmt.Errorf("thumb: %s: %w: %s", name, err, msg)
		} else {
			err = fmt.Errorf("thumb: %s: %w", name, err)
		}
	}
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		return nil, err
	}
	return stdout.Bytes(), nil
}

// cappedBuffer collects up to max bytes and then fails the write, which
// makes the program meet a broken pipe instead of filling memory.
type cappedBuffer struct {
	bytes.Buffer
	max      int64
	overflow bool
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if int64(b.Len())+int64(len(p)) > b.max {
		b.overflow = true
		return 0, errors.New("output over the limit")
	}
	return b.Buffer.Write(p)
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	buf []byte
	max int
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) >= b.max {
		p = p[len(p)-b.max:]
		b.buf = b.buf[:0]
	}
	if over := len(b.buf) + len(p) - b.max; over > 0 {
		b.buf = b.buf[over:]
	}
	b.buf = append(b.buf, p...)
	return n, nil
}

func (b *tailBuffer) String() string { return string(b.buf) }

// lastLines returns up to n of the last complete lines kept, joined by
// " | " to fit one log line. A line cut by the size bound is dropped: half a
// message misleads more than none.
func (b *tailBuffer) lastLines(n int) string {
	s := strings.TrimRight(string(b.buf), "\r\n")
	lines := strings.Split(s, "\n")
	if len(b.buf) == b.max && len(lines) > 1 {
		lines = lines[1:]
	}
	var out []string
	for _, l := range lines {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return strings.Join(out[max(0, len(out)-n):], " | ")
}

// tempDir returns this call's private temporary folder, making it on first
// use; cleanup removes it with everything in it.
func (j *job) tempDir() (string, error) {
	if j.tmpDir == "" {
		dir, err := os.MkdirTemp(j.opt.tempDir, "kinbridge-thumb-")
		if err != nil {
			return "", fmt.Errorf("thumb: %w", err)
		}
		j.tmpDir = dir
	}
	return j.tmpDir, nil
}

// inputPath returns an absolute path at which a program can read the
// original: the one given with WithPath, or else a temporary copy when the
// original is within the spool limit. ok is false when there is none.
func (j *job) inputPath() (path string, ok bool, err error) {
	if j.opt.path != "" {
		p, err := filepath.Abs(j.opt.path)
		if err != nil {
			return "", false, fmt.Errorf("thumb: %w", err)
		}
		return p, true, nil
	}
	if j.size > j.opt.spoolLimit {
		return "", false, nil
	}
	dir, err := j.tempDir()
	if err != nil {
		return "", false, err
	}
	p := filepath.Join(dir, "original")
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", false, fmt.Errorf("thumb: %w", err)
	}
	_, err = io.Copy(f, &ctxReader{ctx: j.ctx, r: io.NewSectionReader(j.r, 0, j.size)})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", false, fmt.Errorf("thumb: copying the original for a program: %w", err)
	}
	return p, true, nil
}

// ctxReader stops a copy when its context ends; spooling a few hundred MB
// from remote storage is long enough to be worth interrupting.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (r *ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}
