package config

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestPrecedenceFlagEnvDefault(t *testing.T) {
	t.Setenv("KINBRIDGE_FROM_ENV", "env-value")
	t.Setenv("KINBRIDGE_BOTH", "env-value")
	t.Setenv("KINBRIDGE_TIMEOUT", "3s")
	t.Setenv("KINBRIDGE_ORIGINS", "http://a.test, http://b.test,")

	s := New("test")
	var fromEnv, both, def string
	var timeout time.Duration
	var origins []string
	s.String(&fromEnv, "from-env", "default", "")
	s.String(&both, "both", "default", "")
	s.String(&def, "untouched", "default", "")
	s.Duration(&timeout, "timeout", time.Second, "")
	s.List(&origins, "origins", nil, "")
	if err := s.Parse([]string{"-both", "flag-value"}); err != nil {
		t.Fatal(err)
	}
	checks := []struct{ name, got, want string }{
		{"env fills an unset flag", fromEnv, "env-value"},
		{"flag beats env", both, "flag-value"},
		{"default stays", def, "default"},
		{"duration from env", timeout.String(), "3s"},
		{"list from env", strings.Join(origins, "|"), "http://a.test|http://b.test"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, c.got, c.want)
		}
	}
}

func TestBadEnvValueNamesTheVariable(t *testing.T) {
	t.Setenv("KINBRIDGE_TIMEOUT", "soon")
	s := New("test")
	var timeout time.Duration
	s.Duration(&timeout, "timeout", time.Second, "")
	err := s.Parse(nil)
	if err == nil || !strings.Contains(err.Error(), "KINBRIDGE_TIMEOUT") {
		t.Fatalf("want an error naming KINBRIDGE_TIMEOUT, got %v", err)
	}
}

func TestLogMasksSecrets(t *testing.T) {
	s := New("test")
	var secret, plain string
	s.Secret(&secret, "password", "", "")
	s.String(&plain, "name", "", "")
	if err := s.Parse([]string{"-password", "hunter2", "-name", "kin"}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	s.Log(slog.New(slog.NewTextHandler(&buf, nil)))
	out := buf.String()
	if strings.Contains(out, "hunter2") {
		t.Fatalf("secret printed: %s", out)
	}
	if !strings.Contains(out, "kin (flag)") || !strings.Contains(out, "**** (flag)") {
		t.Fatalf("unexpected log line: %s", out)
	}
}

func TestTakeDefinesOnlyTheNamedSettings(t *testing.T) {
	t.Setenv("KINBRIDGE_KEPT", "from-env")
	t.Setenv("KINBRIDGE_LEFT", "from-env")
	all := New("all")
	var kept, left, secret string
	all.String(&kept, "kept", "default", "a setting taken")
	all.String(&left, "left", "default", "a setting left out")
	all.Secret(&secret, "password", "", "a secret taken")
	s := New("some")
	s.Take(all, "kept", "password")
	if err := s.Parse([]string{"-password", "hunter2"}); err != nil {
		t.Fatal(err)
	}
	if kept != "from-env" || secret != "hunter2" || left != "default" {
		t.Errorf("kept %q, password %q, left %q", kept, secret, left)
	}
	other := New("other")
	other.Take(all, "kept")
	if err := other.Parse([]string{"-left", "x"}); err == nil {
		t.Error("a setting not taken was accepted")
	}
	var out bytes.Buffer
	s.Log(slog.New(slog.NewTextHandler(&out, nil)))
	if strings.Contains(out.String(), "hunter2") || !strings.Contains(out.String(), "password=\"****") {
		t.Errorf("a taken secret is logged unmasked: %s", out.String())
	}
}
