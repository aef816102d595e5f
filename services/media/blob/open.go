package blob

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// Open opens the store that rawURL names:
//
//   - "file:///abs/dir", or a bare path ("data/blobs", "/var/lib/kb/blobs"):
//     a [Local] store in that directory.
//   - "s3://ACCESS:SECRET@host:port/bucket[/prefix/...][?ssl=BOOL&region=R&part_size=BYTES]":
//     an [S3] store in bucket, every key under prefix. ACCESS and SECRET are
//     percent-encoded (a "/" in a secret is %2F); leave both out
//     ("s3://host:port/bucket") to take them from the environment, see
//     [S3Config]. ssl defaults to true, except on a loopback host
//     (localhost, 127.0.0.0/8, ::1), where it defaults to false. Without
//     region the client asks the server. part_size defaults to
//     [DefaultPartSize].
//
// Unknown schemes and parameters are errors rather than ignored, so a typo
// does not silently give a local directory named "s3:". Errors never show
// the secret; print a configured URL with [RedactURL].
//
// Both stores also implement io.Closer; close the store when done with it.
func Open(ctx context.Context, rawURL string, opts ...Option) (Store, error) {
	dir, cfg, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	if cfg != nil {
		s, err := NewS3(ctx, *cfg, opts...)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	l, err := NewLocal(dir, opts...)
	if err != nil {
		return nil, err
	}
	return l, nil
}

// RedactURL returns rawURL fit for a log line: the secret of an s3:// URL is
// replaced by "xxxxx". A URL that does not parse is not shown at all, since
// where its secret ends cannot be told.
func RedactURL(rawURL string) string {
	u, err := url.Parse(rawURL)
	switch {
	case err != nil && (strings.Contains(rawURL, "://") || strings.Contains(rawURL, "@")):
		return "(store URL that does not parse, not shown)"
	case err != nil || len(u.Scheme) <= 1:
		return rawURL // a path (a one-letter scheme is a Windows drive)
	}
	return u.Redacted()
}

// parseURL returns the directory of a local store, or the config of an S3
// one.
func parseURL(rawURL string) (dir string, cfg *S3Config, err error) {
	if rawURL == "" {
		return "", nil, errors.New("blob: empty store URL")
	}
	u, perr := url.Parse(rawURL)
	if perr != nil {
		if !strings.Contains(rawURL, "://") && !strings.Contains(rawURL, "@") {
			return rawURL, nil, nil // a path that merely is no URL, such as "a%zz"
		}
		// perr quotes the URL and perhaps a piece of the secret: not shown.
		return "", nil, errors.New("blob: store URL does not parse (in a secret, percent-encode / ? # @ and :)")
	}
	if len(u.Scheme) <= 1 {
		return rawURL, nil, nil
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("blob: store URL %s: %s", RedactURL(rawURL), fmt.Sprintf(format, args...))
	}
	switch u.Scheme {
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return "", nil, bad("a file URL names a local absolute path: file:///dir")
		}
		if u.Path == "" || u.RawQuery != "" || u.Fragment != "" {
			return "", nil, bad("a file URL names a local absolute path: file:///dir")
		}
		return u.Path, nil, nil
	case "s3":
		cfg, err := parseS3(u)
		if err != nil {
			return "", nil, bad("%v", err)
		}
		return "", cfg, nil
	default:
		return "", nil, bad("unknown scheme %q (want file:// or s3://)", u.Scheme)
	}
}

func parseS3(u *url.URL) (*S3Config, error) {
	if u.Host == "" {
		return nil, errors.New("no host: s3://ACCESS:SECRET@host:port/bucket")
	}
	if u.Fragment != "" || u.Opaque != "" {
		return nil, errors.New("want s3://ACCESS:SECRET@host:port/bucket[/prefix]")
	}
	cfg := &S3Config{Endpoint: u.Host, UseSSL: !isLoopback(u.Hostname())}
	if u.User != nil {
		var ok bool
		cfg.AccessKey = u.User.Username()
		cfg.SecretKey, ok = u.User.Password()
		if !ok || cfg.AccessKey == "" || cfg.SecretKey == "" {
			return nil, errors.New("give both ACCESS and SECRET, or neither (to read them from the environment)")
		}
	}
	bucket, prefix, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
	if bucket == "" {
		return nil, errors.New("no bucket: s3://ACCESS:SECRET@host:port/bucket")
	}
	cfg.Bucket = bucket
	if prefix = strings.TrimSuffix(prefix, "/"); prefix != "" {
		for seg := range strings.SplitSeq(prefix, "/") {
			if seg == "" || seg == "." || seg == ".." {
				return nil, fmt.Errorf("prefix %q has an empty, . or .. segment", prefix)
			}
		}
		cfg.Prefix = prefix + "/"
	}
	for k, vs := range u.Query() {
		v := vs[len(vs)-1]
		switch k {
		case "ssl":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return nil, fmt.Errorf("ssl=%q: want true or false", v)
			}
			cfg.UseSSL = b
		case "region":
			cfg.Region = v
		case "part_size":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < MinPartSize {
				return nil, fmt.Errorf("part_size=%q: want a number of bytes, at least %d", v, MinPartSize)
			}
			cfg.PartSize = n
		default:
			return nil, fmt.Errorf("unknown parameter %q (known: ssl, region, part_size)", k)
		}
	}
	return cfg, nil
}

// isLoopback reports whether host is this machine, where plain HTTP is the
// norm (a test MinIO) and nothing travels over a network.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
