package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Env names the variable holding the URL of the S3-compatible server tests
// create their buckets on: s3://ACCESS:SECRET@host:port[?ssl=BOOL&region=R],
// the server part of the media blob store's URLs.
const S3Env = "KINBRIDGE_TEST_S3_URL"

// DefaultS3URL is used when S3Env is unset: the MinIO that scripts/minio.sh
// starts on loopback.
const DefaultS3URL = "s3://minioadmin:minioadmin@127.0.0.1:9000"

// s3ProbeTimeout bounds the reachability check, so a machine without a
// server skips quickly instead of waiting on a filtered port.
const s3ProbeTimeout = 5 * time.Second

// s3Unreachable remembers server URLs that did not answer, so that a test
// binary with many S3 tests pays the probe once.
var s3Unreachable sync.Map // server URL -> error

// S3 returns the URL of a fresh, empty bucket on the S3-compatible server
// named by KINBRIDGE_TEST_S3_URL (default [DefaultS3URL]), in the form the
// media blob store opens: s3://ACCESS:SECRET@host:port/bucket?ssl=BOOL[&region=R].
// The bucket and everything in it are removed when the test and its subtests
// end.
//
// If the server cannot be reached (or refuses the credentials) the test is
// skipped, or fails when KINBRIDGE_TEST_REQUIRE names "s3"; see [SkipOrFail].
func S3(t testing.TB) string {
	t.Helper()
	raw := os.Getenv(S3Env)
	if raw == "" {
		raw = DefaultS3URL
	}
	howTo := fmt.Sprintf("start MinIO with scripts/minio.sh, or set %s to s3://ACCESS:SECRET@host:port of an S3-compatible server (default %s)",
		S3Env, DefaultS3URL)

	if err, ok := s3Unreachable.Load(raw); ok {
		SkipOrFail(t, "s3", fmt.Sprintf("cannot reach %s: %v; %s", redactS3(raw), err, howTo))
		return ""
	}
	srv, err := parseS3Server(raw)
	if err != nil {
		// A URL that does not parse is a mistake to fix, not a missing server.
		t.Fatalf("testenv: %s=%s: %v", S3Env, redactS3(raw), err)
		return ""
	}
	client, transport, err := srv.client()
	if err != nil {
		t.Fatalf("testenv: %s=%s: %v", S3Env, redactS3(raw), err)
		return ""
	}

	probe, cancel := context.WithTimeout(context.Background(), s3ProbeTimeout)
	_, err = client.ListBuckets(probe)
	cancel()
	if err != nil {
		transport.CloseIdleConnections()
		s3Unreachable.Store(raw, err)
		SkipOrFail(t, "s3", fmt.Sprintf("cannot reach %s: %v; %s", redactS3(raw), err, howTo))
		return ""
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Bucket names are lowercase, 3-63 characters of [a-z0-9-].
	bucket := "kb-test-" + randomHex(8)
	if err := client.MakeBucket(ctx, bucket, minio.MakeBucketOptions{Region: srv.region}); err != nil {
		transport.CloseIdleConnections()
		t.Fatalf("testenv: create bucket on %s: %v", redactS3(raw), err)
		return ""
	}
	t.Cleanup(func() {
		// Idle connections would outlive the test and trip goleak.
		defer transport.CloseIdleConnections()
		// The test's own context is already canceled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := removeBucket(ctx, client, bucket); err != nil {
			t.Errorf("testenv: remove bucket %s: %v", bucket, err)
		}
	})
	return srv.bucketURL(bucket)
}

// removeBucket empties bucket and removes it. ForceDelete (a MinIO
// extension, ignored elsewhere) also drops multipart uploads a test left
// unfinished; the objects are removed one by one first for servers without it.
func removeBucket(ctx context.Context, client *minio.Client, bucket string) error {
	objects := client.ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true})
	var errs []error
	for rerr := range client.RemoveObjects(ctx, bucket, objects, minio.RemoveObjectsOptions{}) {
		errs = append(errs, fmt.Errorf("remove %s: %w", rerr.ObjectName, rerr.Err))
	}
	if err := client.RemoveBucketWithOptions(ctx, bucket, minio.RemoveBucketOptions{ForceDelete: true}); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// s3Server is the parsed KINBRIDGE_TEST_S3_URL.
type s3Server struct {
	user   *url.Userinfo // nil: credentials from the environment
	host   string        // host:port
	ssl    bool
	region string
}

// parseS3Server reads s3://[ACCESS:SECRET@]host:port[/][?ssl=BOOL&region=R].
// Like the blob store, it defaults ssl to false only on a loopback host.
func parseS3Server(raw string) (s3Server, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// err quotes the URL, secret included: not shown.
		return s3Server{}, errors.New("does not parse (percent-encode / ? # @ and : in the secret)")
	}
	if u.Scheme != "s3" || u.Host == "" {
		return s3Server{}, errors.New("want s3://ACCESS:SECRET@host:port")
	}
	if u.Path != "" && u.Path != "/" {
		return s3Server{}, errors.New("names a server, not a bucket: want s3://ACCESS:SECRET@host:port without a path")
	}
	srv := s3Server{user: u.User, host: u.Host}
	if u.User != nil {
		if _, ok := u.User.Password(); !ok || u.User.Username() == "" {
			return s3Server{}, errors.New("give both ACCESS and SECRET, or neither (to read them from the environment)")
		}
	}
	host := u.Hostname()
	ip := net.ParseIP(host)
	srv.ssl = !strings.EqualFold(host, "localhost") && (ip == nil || !ip.IsLoopback())
	for k, vs := range u.Query() {
		v := vs[len(vs)-1]
		switch k {
		case "ssl":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return s3Server{}, fmt.Errorf("ssl=%q: want true or false", v)
			}
			srv.ssl = b
		case "region":
			srv.region = v
		default:
			return s3Server{}, fmt.Errorf("unknown parameter %q (known: ssl, region)", k)
		}
	}
	return srv, nil
}

// client returns a client of the server and its transport, whose idle
// connections the caller closes.
func (s s3Server) client() (*minio.Client, *http.Transport, error) {
	creds := credentials.NewChainCredentials([]credentials.Provider{&credentials.EnvAWS{}, &credentials.EnvMinio{}})
	if s.user != nil {
		secret, _ := s.user.Password()
		creds = credentials.NewStaticV4(s.user.Username(), secret, "")
	}
	transport, err := minio.DefaultTransport(s.ssl)
	if err != nil {
		return nil, nil, err
	}
	client, err := minio.New(s.host, &minio.Options{
		Creds:     creds,
		Secure:    s.ssl,
		Transport: transport,
		Region:    s.region,
		// The default of 10 retries with backoff would turn a missing
		// server into a long wait instead of a quick skip.
		MaxRetries: 2,
	})
	if err != nil {
		return nil, nil, err
	}
	return client, transport, nil
}

// bucketURL is the blob store URL of bucket on this server, with ssl spelled
// out so that it means the same whatever the reader's default.
func (s s3Server) bucketURL(bucket string) string {
	q := url.Values{"ssl": {strconv.FormatBool(s.ssl)}}
	if s.region != "" {
		q.Set("region", s.region)
	}
	u := url.URL{Scheme: "s3", User: s.user, Host: s.host, Path: "/" + bucket, RawQuery: q.Encode()}
	return u.String()
}

// redactS3 masks the secret of an s3:// URL shown in a test message.
func redactS3(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(URL that does not parse, not shown)"
	}
	return u.Redacted()
}
