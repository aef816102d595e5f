// Package upload is the one loop that streams bytes into the media
// service: the SDK's resumable uploader (client/), the gateway's tus and
// REST uploads and the upload benchmark all send through it. It lives in
// pkg/ because the gateway reaches the services through gen/ and pkg/ only.
package upload

import (
	"context"
	"errors"
	"fmt"
	"io"

	mediav1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/v1"
)

// ChunkSize is how much goes into one gRPC message: well under the 4 MiB a
// message may carry by default, and the media service commits (and syncs)
// each one, so a cut loses at most this much.
const ChunkSize = 1 << 20

// ReadError is a failure reading the bytes to send (a file that broke, a
// request body whose client went away), as opposed to one sending them.
type ReadError struct{ Err error }

// Error says the bytes could not be read, and why.
func (e *ReadError) Error() string { return fmt.Sprintf("reading the upload: %v", e.Err) }

// Unwrap returns the reader's error.
func (e *ReadError) Unwrap() error { return e.Err }

// Send reads r into buf, a full buffer at a time, and hands each chunk to
// send until r ends; it returns how many bytes it handed over. After each
// chunk, sent (when not nil) hears the total so far.
//
// buf is reused for every chunk. That is safe on gRPC streams because Send
// marshals the message into bytes of its own before it returns, as long as
// nothing on the connection keeps the sent message (a stats handler that
// reads payloads later would need a buffer per message). Reusing it saves a
// buffer's worth of garbage per chunk.
//
// A failure of r is a *ReadError, which wins over a failure of send: the
// bytes read before it are still sent, so a stream that commits as it goes
// keeps them. A failure of send ends the loop with that error; on a gRPC
// stream, closing it then says why the service ended it.
func Send(r io.Reader, buf []byte, send func([]byte) error, sent func(int64)) (int64, error) {
	if len(buf) == 0 {
		return 0, errors.New("upload: empty buffer")
	}
	var total int64
	for {
		n, rerr := io.ReadFull(r, buf)
		last := false
		switch {
		case rerr == io.EOF || rerr == io.ErrUnexpectedEOF:
			rerr, last = nil, true
		case rerr != nil:
			rerr = &ReadError{Err: rerr}
		}
		if n > 0 {
			if err := send(buf[:n]); err != nil {
				if rerr != nil {
					return total, rerr
				}
				return total, err
			}
			total += int64(n)
			if sent != nil {
				sent(total)
			}
		}
		if rerr != nil || last {
			return total, rerr
		}
	}
}

// WriteSession appends r's bytes to the upload session name, which must
// have offset bytes committed: it opens WriteUploadSession at offset, sends
// r through buf (see [Send]), closes the stream and returns the session as
// the service answers, with its committed offset.
//
// A failure reading r is returned as a *ReadError together with the
// session (what the service committed of the bytes sent before it), when
// the close succeeded; any other error is the stream's status.
func WriteSession(ctx context.Context, media mediav1.MediaServiceClient, name string, offset int64, r io.Reader, buf []byte, sent func(int64)) (*mediav1.UploadSession, error) {
	stream, err := media.WriteUploadSession(ctx)
	if err != nil {
		return nil, err
	}
	if err := stream.Send(&mediav1.WriteUploadSessionRequest{Part: &mediav1.WriteUploadSessionRequest_Start{
		Start: &mediav1.WriteStart{Name: name, Offset: offset}}}); err != nil {
		_, err := stream.CloseAndRecv() // the service's answer says why
		return nil, err
	}
	_, sendErr := Send(r, buf, func(b []byte) error {
		return stream.Send(&mediav1.WriteUploadSessionRequest{Part: &mediav1.WriteUploadSessionRequest_Chunk{Chunk: b}})
	}, sent)
	sess, err := stream.CloseAndRecv()
	if err != nil {
		return nil, err
	}
	var re *ReadError
	if errors.As(sendErr, &re) {
		return sess, re
	}
	return sess, nil
}
