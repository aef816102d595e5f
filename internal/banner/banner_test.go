package banner_test

import (
	"strings"
	"testing"

	"github.com/kinbridge/kinbridge/internal/banner"
)

func TestReadWhatIsWritten(t *testing.T) {
	out := strings.Join([]string{
		"Kinbridge dev is up (serve all, data in /tmp/x):",
		banner.Line(banner.Progress, "127.0.0.1:9101"),
		banner.Line(banner.Media, "127.0.0.1:9102"),
		banner.Line(banner.Notification, "127.0.0.1:9103"),
		banner.Line(banner.Gateway, "http://127.0.0.1:8080"),
		banner.Line(banner.APIDocs, "http://127.0.0.1:8080/docs"),
		banner.Line(banner.Metrics, "http://127.0.0.1:9464/metrics"),
		banner.Line(banner.Tracez, "http://127.0.0.1:9464/debug/tracez"),
		"",
		"Open this link to sign in as the administrator (works once, for 24 hours):",
		banner.Line(banner.SignIn, "http://127.0.0.1:8080/auth/link?code=abc-DEF_1"),
		"",
		banner.LastLinePrefix + " kinbridge token issue ...",
		"after the banner",
	}, "\n")
	got, err := banner.Read(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	want := banner.Addresses{Progress: "127.0.0.1:9101", Media: "127.0.0.1:9102", Notification: "127.0.0.1:9103",
		Gateway: "127.0.0.1:8080", Metrics: "127.0.0.1:9464", SignInLink: "http://127.0.0.1:8080/auth/link?code=abc-DEF_1"}
	if got != want {
		t.Fatalf("Read = %+v, want %+v", got, want)
	}
}

func TestReadWithoutTheLastLine(t *testing.T) {
	if _, err := banner.Read(strings.NewReader(banner.Line(banner.Progress, "127.0.0.1:1") + "\n")); err == nil {
		t.Fatal("a banner cut short was accepted")
	}
}
