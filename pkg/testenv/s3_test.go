package testenv_test

import (
	"bytes"
	"context"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/kinbridge/kinbridge/pkg/testenv"
)

func TestS3Unreachable(t *testing.T) {
	raw := "s3://kb:hunter2secret@" + testenv.FreeAddr(t)
	tests := []struct {
		require  string
		wantSkip bool
	}{
		{"", true},
		{"s3", false},
		{"postgres,nats", true},
	}
	for _, tc := range tests {
		t.Run("require="+tc.require, func(t *testing.T) {
			t.Setenv(testenv.S3Env, raw)
			t.Setenv(testenv.RequireEnv, tc.require)
			r := &recorder{TB: t}
			if got := testenv.S3(r); got != "" {
				t.Errorf("S3() = %q on an unreachable server", got)
			}
			if (r.skipped != "") != tc.wantSkip || (r.failed != "") == tc.wantSkip {
				t.Fatalf("skipped=%q failed=%q, want skip: %v", r.skipped, r.failed, tc.wantSkip)
			}
			msg := r.skipped + r.failed
			if strings.Contains(msg, "hunter2secret") {
				t.Errorf("message shows the secret: %s", msg)
			}
			for _, want := range []string{testenv.S3Env, "scripts/minio.sh", testenv.RequireEnv} {
				if !strings.Contains(msg, want) {
					t.Errorf("message %q does not say %q", msg, want)
				}
			}
		})
	}
}

func TestS3BadURL(t *testing.T) {
	for _, raw := range []string{
		"http://kb:hunter2secret@127.0.0.1:9000",
		"s3://kb:hunter2secret@127.0.0.1:9000/bucket",
		"s3://kb:hunter2secret@127.0.0.1:9000?ssl=maybe",
		"s3://kb:hunter2secret@127.0.0.1:9000?sssl=false",
		"s3://kb@127.0.0.1:9000",
		"s3://kb:hunter2/secret@127.0.0.1:9000", // an unencoded "/" in the secret
	} {
		t.Run(raw, func(t *testing.T) {
			t.Setenv(testenv.S3Env, raw)
			t.Setenv(testenv.RequireEnv, "") // a bad URL fails even when S3 is optional
			r := &recorder{TB: t}
			if got := testenv.S3(r); got != "" {
				t.Errorf("S3() = %q", got)
			}
			if r.failed == "" {
				t.Fatalf("not failed (skipped=%q)", r.skipped)
			}
			if strings.Contains(r.failed, "hunter2") || strings.Contains(r.failed, "secret@") {
				t.Errorf("message shows the secret: %s", r.failed)
			}
			if !strings.Contains(r.failed, testenv.S3Env) {
				t.Errorf("message %q does not name %s", r.failed, testenv.S3Env)
			}
		})
	}
}

// clientFor opens a client on the bucket of a URL that S3 returned.
func clientFor(t *testing.T, raw string) (*minio.Client, string) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	ssl, err := strconv.ParseBool(u.Query().Get("ssl"))
	if err != nil {
		t.Fatalf("URL %s: ssl: %v", u.Redacted(), err)
	}
	secret, _ := u.User.Password()
	transport, err := minio.DefaultTransport(ssl)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(transport.CloseIdleConnections)
	client, err := minio.New(u.Host, &minio.Options{
		Creds:     credentials.NewStaticV4(u.User.Username(), secret, ""),
		Secure:    ssl,
		Transport: transport,
		Region:    u.Query().Get("region"),
	})
	if err != nil {
		t.Fatal(err)
	}
	return client, strings.TrimPrefix(u.Path, "/")
}

func TestS3(t *testing.T) {
	var raw string
	t.Run("fresh bucket", func(t *testing.T) {
		raw = testenv.S3(t)
		client, bucket := clientFor(t, raw)
		ctx := t.Context()
		for obj := range client.ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true}) {
			t.Errorf("fresh bucket holds %s (err %v)", obj.Key, obj.Err)
		}
		// A second call gives another bucket.
		if other := testenv.S3(t); other == raw {
			t.Errorf("two calls returned the same bucket %s", raw)
		}
		// Left behind on purpose: cleanup must remove the bucket anyway,
		// with an object and an unfinished multipart upload in it.
		if _, err := client.PutObject(ctx, bucket, "a/b/left-behind", bytes.NewReader([]byte("x")), 1, minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
		core := minio.Core{Client: client}
		if _, err := core.NewMultipartUpload(ctx, bucket, "unfinished", minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	})
	if raw == "" {
		return // the subtest said why
	}
	client, bucket := clientFor(t, raw)
	ok, err := client.BucketExists(context.Background(), bucket)
	if err != nil {
		t.Fatal(err)
	}
	if ok {
		t.Errorf("bucket %s still exists after its test ended", bucket)
	}
}
