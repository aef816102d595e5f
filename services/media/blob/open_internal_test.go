package blob

import (
	"errors"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		raw  string
		dir  string
		want *S3Config
	}{
		{raw: "data/blobs", dir: "data/blobs"},
		{raw: "/var/lib/kinbridge/blobs", dir: "/var/lib/kinbridge/blobs"},
		{raw: "file:///var/lib/kinbridge/blobs", dir: "/var/lib/kinbridge/blobs"},
		{raw: "file://localhost/srv/blobs", dir: "/srv/blobs"},
		{raw: `C:\kinbridge\blobs`, dir: `C:\kinbridge\blobs`},
		{raw: "a%zz", dir: "a%zz"},
		{
			raw:  "s3://minioadmin:minioadmin@127.0.0.1:9000/media?ssl=false",
			want: &S3Config{Endpoint: "127.0.0.1:9000", Bucket: "media", AccessKey: "minioadmin", SecretKey: "minioadmin"},
		},
		{
			// Loopback defaults to plain HTTP, anything else to TLS.
			raw:  "s3://ak:sk@localhost:9000/media",
			want: &S3Config{Endpoint: "localhost:9000", Bucket: "media", AccessKey: "ak", SecretKey: "sk"},
		},
		{
			raw:  "s3://ak:sk@[::1]:9000/media?ssl=true",
			want: &S3Config{Endpoint: "[::1]:9000", Bucket: "media", AccessKey: "ak", SecretKey: "sk", UseSSL: true},
		},
		{
			raw: "s3://AKIA:s%2Fk%2Bx%40y%3Az@s3.eu-west-1.amazonaws.com/kb-media/media/blobs/?region=eu-west-1&part_size=8388608",
			want: &S3Config{Endpoint: "s3.eu-west-1.amazonaws.com", Bucket: "kb-media", AccessKey: "AKIA", SecretKey: "s/k+x@y:z",
				UseSSL: true, Region: "eu-west-1", Prefix: "media/blobs/", PartSize: 8 << 20},
		},
		{
			// No credentials: the environment gives them.
			raw:  "s3://minio.internal:9000/media/p",
			want: &S3Config{Endpoint: "minio.internal:9000", Bucket: "media", UseSSL: true, Prefix: "p/"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.raw, func(t *testing.T) {
			dir, cfg, err := parseURL(tc.raw)
			if err != nil {
				t.Fatal(err)
			}
			if dir != tc.dir {
				t.Errorf("dir = %q, want %q", dir, tc.dir)
			}
			switch {
			case (cfg == nil) != (tc.want == nil):
				t.Errorf("config = %+v, want %+v", cfg, tc.want)
			case cfg != nil && *cfg != *tc.want:
				t.Errorf("config = %+v\nwant %+v", *cfg, *tc.want)
			}
		})
	}
}

func TestParseURLErrors(t *testing.T) {
	const secret = "S3CR3T-value"
	for _, raw := range []string{
		"",
		"s3:/bucket",
		"s3:bucket",
		"s3://",
		"s3://ak:" + secret + "@",
		"s3://ak:" + secret + "@h:9000",
		"s3://ak:" + secret + "@h:9000/",
		"s3://ak@h:9000/b",
		"s3://:" + secret + "@h:9000/b",
		"s3://ak:" + secret + "@h:9000/b?ssl=maybe",
		"s3://ak:" + secret + "@h:9000/b?sll=false",
		"s3://ak:" + secret + "@h:9000/b?part_size=1024",
		"s3://ak:" + secret + "@h:9000/b?part_size=lots",
		"s3://ak:" + secret + "@h:9000/b/../etc",
		"s3://ak:" + secret + "@h:9000/b/a//c",
		"s3://ak:" + secret + "@h:9000/b#x",
		"s3://ak:S3CR3T/value@h:9000/b", // an unencoded "/" in the secret
		"s3://ak:S3CR3T?value@h:9000/b",
		"s3://ak:S3CR3T#value@h:9000/b",
		"http://ak:" + secret + "@h:9000/b",
		"gs://b",
		"file://otherhost/x",
		"file:///x?y=1",
		"file://",
	} {
		t.Run(raw, func(t *testing.T) {
			_, _, err := parseURL(raw)
			if err == nil {
				t.Fatal("no error")
			}
			if strings.Contains(err.Error(), "S3CR3T") {
				t.Errorf("error shows the secret: %v", err)
			}
			if red := RedactURL(raw); strings.Contains(red, "S3CR3T") {
				t.Errorf("RedactURL shows the secret: %s", red)
			}
		})
	}
}

func TestRedactURL(t *testing.T) {
	for raw, want := range map[string]string{
		"s3://ak:sk@127.0.0.1:9000/b?ssl=false": "s3://ak:xxxxx@127.0.0.1:9000/b?ssl=false",
		"s3://127.0.0.1:9000/b":                 "s3://127.0.0.1:9000/b",
		"file:///srv/blobs":                     "file:///srv/blobs",
		"data/blobs":                            "data/blobs",
		"s3://ak:s/k@h/b":                       "(store URL that does not parse, not shown)",
	} {
		if got := RedactURL(raw); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", raw, got, want)
		}
	}
}

func TestValidName(t *testing.T) {
	valid := strings.Repeat("0123456789abcdef", 4)
	for name, want := range map[string]bool{
		valid:                            true,
		"":                               false,
		valid[:63]:                       false,
		valid + "a":                      false,
		strings.ToUpper(valid):           false,
		valid[:62] + "..":                false,
		"../" + valid[3:]:                false,
		valid[:63] + "g":                 false,
		strings.Repeat("f", 64):          true,
		strings.Repeat("/", 64):          false,
		valid[:32] + "\x00" + valid[33:]: false,
	} {
		if got := ValidName(name); got != want {
			t.Errorf("ValidName(%q) = %v, want %v", name, got, want)
		}
	}
}

// FuzzParseURL checks that no URL panics the parser, that what it accepts
// is usable, and that a secret given in the URL shows neither in an error
// nor in the redacted form.
func FuzzParseURL(f *testing.F) {
	for _, seed := range []string{
		"data/blobs", "file:///srv/blobs", "s3://ak:sk@127.0.0.1:9000/b?ssl=false",
		"s3://ak:s%2Fk@h/b/p/q?region=r&part_size=5242880", "s3://ak:s/k@h/b", "s3:/x", "s3://h/b#f",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		dir, cfg, err := parseURL(raw)
		red := RedactURL(raw)
		if u, perr := url.Parse(raw); perr == nil && u.User != nil {
			// Only a secret that appears nowhere else in the URL can be
			// told apart from the rest of it.
			if pw, ok := u.User.Password(); ok && len(pw) >= 6 && strings.Count(raw, pw) == 1 {
				if err != nil && strings.Contains(err.Error(), pw) {
					t.Errorf("parseURL(%q) error shows the secret: %v", raw, err)
				}
				if strings.Contains(red, pw) {
					t.Errorf("RedactURL(%q) = %q shows the secret", raw, red)
				}
			}
		}
		if err != nil {
			return
		}
		if cfg == nil && dir == "" {
			t.Fatalf("parseURL(%q) gave neither a directory nor a config", raw)
		}
		if cfg != nil {
			if cfg.Endpoint == "" || cfg.Bucket == "" || (cfg.AccessKey == "") != (cfg.SecretKey == "") {
				t.Errorf("parseURL(%q) = %+v", raw, *cfg)
			}
			if cfg.Prefix != "" && (!strings.HasSuffix(cfg.Prefix, "/") || strings.HasPrefix(cfg.Prefix, "/")) {
				t.Errorf("parseURL(%q) prefix %q", raw, cfg.Prefix)
			}
		}
	})
}

// FuzzValidName checks that a name ValidName accepts can only ever address
// a file two levels below the store's directory.
func FuzzValidName(f *testing.F) {
	f.Add(strings.Repeat("ab", 32))
	f.Add("../../etc/passwd")
	f.Fuzz(func(t *testing.T, name string) {
		err := checkName("open", name)
		if !ValidName(name) {
			if !errors.Is(err, ErrInvalidName) {
				t.Fatalf("checkName(%q) = %v", name, err)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		l := &Local{dir: "/store"}
		p := l.path(name)
		if filepath.Dir(filepath.Dir(filepath.Dir(p))) != "/store" || filepath.Base(p) != name {
			t.Errorf("name %q maps to %q", name, p)
		}
	})
}
