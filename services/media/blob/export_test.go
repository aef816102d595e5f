package blob

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
)

// SetStaleTempAge makes temporary uploads older than d count as abandoned
// until the test ends.
func SetStaleTempAge(t testing.TB, d time.Duration) {
	old := staleTempAge
	staleTempAge = d
	t.Cleanup(func() { staleTempAge = old })
}

// PutTemp stores data as a temporary upload, as a Put that crashed between
// its upload and its copy leaves it, and returns its key.
func (s *S3) PutTemp(ctx context.Context, data []byte) (string, error) {
	key := s.tmpPrefix() + randomHex(16)
	_, err := s.client.PutObject(ctx, s.bucket, key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{})
	return key, err
}

// Keys lists what the store's bucket holds: every object key, under the
// store's prefix or not, and, as "upload:KEY", every unfinished multipart
// upload anywhere in the bucket (MinIO lists uploads only for an empty
// prefix or a whole key, not for a folder-like prefix). Tests check it to see
// that a failed Put left nothing behind.
func (s *S3) Keys(ctx context.Context) ([]string, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var keys []string
	for obj := range s.client.ListObjectsIter(ctx, s.bucket, minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			return nil, obj.Err
		}
		keys = append(keys, obj.Key)
	}
	for up := range s.client.ListIncompleteUploads(ctx, s.bucket, "", true) {
		if up.Err != nil {
			return nil, up.Err
		}
		keys = append(keys, "upload:"+up.Key)
	}
	return keys, nil
}
