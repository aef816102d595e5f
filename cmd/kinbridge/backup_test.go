package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kinbridge/kinbridge/pkg/testenv"
)

// TestBackupRestore backs up a suite while it serves (and while a writer
// keeps adding records), restores the backup into fresh databases and a
// fresh blob store, starts a new suite on them and finds every record and
// every blob (item bytes and thumbnails, compared by SHA-256) there, with
// the old suite's tokens (the signing keys come back too). Then it damages
// one blob of the backup and checks restore refuses it, and checks restore
// refuses databases that are not empty.
func TestBackupRestore(t *testing.T) {
	t.Run("sqlite and a local blob directory", func(t *testing.T) {
		roundTrip(t, nil, nil)
	})
	postgres := func(t *testing.T) []string {
		testenv.Tool(t, "pg_dump")
		testenv.Tool(t, "pg_restore")
		return []string{"--progress-db", testenv.Postgres(t), "--media-db", testenv.Postgres(t), "--notification-db", testenv.Postgres(t)}
	}
	t.Run("postgres and a local blob directory", func(t *testing.T) {
		roundTrip(t, postgres(t), postgres(t))
	})
	t.Run("postgres and s3", func(t *testing.T) {
		fromS3, toS3 := testenv.S3(t), testenv.S3(t) // first: without S3, skip before making databases
		roundTrip(t, append(postgres(t), "--blob-url", fromS3), append(postgres(t), "--blob-url", toS3))
	})
}

// roundTrip runs the test on the databases and blob store that from and to
// name (nil: the data directory's defaults).
func roundTrip(t *testing.T, from, to []string) {
	dirA, dirB, backupDir := t.TempDir(), t.TempDir(), filepath.Join(t.TempDir(), "backup")
	var before, after map[string][]string // listing -> resource names
	var blobs map[string]string           // download path -> SHA-256
	var tokens map[string]string

	t.Run("back up while serving", func(t *testing.T) {
		s := startSuiteIn(t, dirA, from...)
		tokens = map[string]string{"admin": s.adminToken, "maria": s.userToken(t, "maria", false), "teacher": s.userToken(t, "teacher", false)}
		child := s.family(t)
		s.record(t, child, tokens["teacher"], "Fractions")
		s.mustCreate(t, "/v1/"+child+"/milestones", tokens["teacher"], `{"title":"Reads alone","category":"MILESTONE_CATEGORY_ACADEMIC","achievedDate":"2026-02-01"}`)
		photo, err := os.ReadFile("../../services/media/ingest/testdata/gps.jpg")
		if err != nil {
			t.Fatal(err)
		}
		item, err := s.upload(t, s.media, tokens["teacher"], child, photo)
		if err != nil {
			t.Fatal(err)
		}
		testenv.Eventually(t, "the photo is ready with its thumbnails", func() string {
			r := s.call(t, "GET", "/v1/"+item.GetName(), tokens["teacher"], "")
			if !strings.Contains(string(r.body), "MEDIA_STATE_READY") || !strings.Contains(string(r.body), `"large"`) {
				return string(r.body)
			}
			return ""
		})
		assessment := listNames(t, s, "/v1/"+child+"/assessments", tokens["maria"])[0]
		s.mustCreate(t, "/v1/"+assessment+"/comments", tokens["maria"], `{"text":"Well done!"}`)
		s.mustCreate(t, "/v1/"+item.GetName()+"/comments", tokens["maria"], `{"text":"Lovely"}`)
		s.settled(t, tokens["maria"], "Fractions")
		// Comments' notifications do not quote them: the teacher's inbox
		// holds both once it has two COMMENT_ADDED.
		testenv.Eventually(t, "the teacher heard of both comments", func() string {
			if inbox := string(s.call(t, "GET", "/v1/users/me/notifications", tokens["teacher"], "").body); strings.Count(inbox, "EVENT_TYPE_COMMENT_ADDED") < 2 {
				return inbox
			}
			return ""
		})

		before = listings(t, s, child, tokens)
		blobs = map[string]string{}
		for _, q := range []string{"", "?thumbnail=small", "?thumbnail=large"} {
			path := "/v1/" + item.GetName() + ":content" + q
			r := s.call(t, "GET", path, tokens["maria"], "")
			if r.status != 200 || len(r.body) == 0 {
				t.Fatalf("GET %s: %d", path, r.status)
			}
			blobs[path] = sha(r.body)
		}

		// Writers go on during the backup: it must still be consistent.
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				// Not s.record: t.Fatal belongs to the test's goroutine.
				req, _ := http.NewRequest("POST", s.gateway+"/v1/"+child+"/assessments", strings.NewReader(fmt.Sprintf(
					`{"subject":"Math","title":"During the backup %d","kind":"ASSESSMENT_KIND_TEST","assessedDate":"2026-03-01"}`, i)))
				req.Header.Set("Authorization", "Bearer "+tokens["teacher"])
				if resp, err := http.DefaultClient.Do(req); err == nil {
					resp.Body.Close()
				}
			}
		}()
		time.Sleep(100 * time.Millisecond)
		mustRun(t, append([]string{"backup", "--to", backupDir, "--data-dir", dirA}, from...)...)
		close(stop)
		wg.Wait()
		after = listings(t, s, child, tokens)
	})
	if t.Failed() {
		return
	}

	t.Run("restore into a fresh suite", func(t *testing.T) {
		mustRun(t, append([]string{"restore", "--from", backupDir, "--data-dir", dirB}, to...)...)
		s := startSuiteIn(t, dirB, to...)
		child := listNames(t, s, "/v1/children", tokens["admin"])[0]
		restored := listings(t, s, child, tokens)
		for list, names := range before {
			for _, n := range names {
				if !slices.Contains(restored[list], n) {
					t.Errorf("%s: %s is missing after the restore", list, n)
				}
			}
		}
		for list, names := range restored {
			for _, n := range names {
				if !slices.Contains(after[list], n) {
					t.Errorf("%s: the restore has %s, which the suite never had", list, n)
				}
			}
		}
		if n := len(restored["/v1/"+child+"/assessments"]); n < 2 {
			t.Errorf("only %d assessments restored: the writers during the backup wrote none before it", n)
		}
		for path, want := range blobs {
			r := s.call(t, "GET", path, tokens["maria"], "")
			if r.status != 200 || sha(r.body) != want {
				t.Errorf("GET %s after the restore: %d, SHA-256 %s, want %s", path, r.status, sha(r.body), want)
			}
		}
	})

	t.Run("refusals", func(t *testing.T) {
		// Restoring again over what was just restored.
		err := kbErr(append([]string{"restore", "--from", backupDir, "--data-dir", dirB}, to...)...)
		if err == nil || !strings.Contains(err.Error(), "refusing to overwrite") {
			t.Errorf("restore over a restored suite: %v, want a refusal", err)
		}
		// One byte of one blob changed.
		var m manifest
		raw, _ := os.ReadFile(filepath.Join(backupDir, manifestName))
		if err := json.Unmarshal(raw, &m); err != nil || len(m.Blobs) == 0 {
			t.Fatalf("manifest: %v, %d blobs", err, len(m.Blobs))
		}
		path := filepath.Join(backupDir, filepath.FromSlash(m.Blobs[0].Path))
		data, _ := os.ReadFile(path)
		data[len(data)/2] ^= 1
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		fresh := t.TempDir()
		err = kbErr("restore", "--from", backupDir, "--data-dir", fresh)
		if err == nil || !strings.Contains(err.Error(), "is damaged") {
			t.Errorf("restore of a damaged backup: %v, want a refusal naming the damaged file", err)
		}
		if files := testenv.Files(t, fresh); len(files) > 0 {
			t.Errorf("restore of a damaged backup wrote %v", files)
		}
		if err := kbErr("backup", "--to", backupDir, "--data-dir", dirA); err == nil || !strings.Contains(err.Error(), "not empty") {
			t.Errorf("backup into a used directory: %v, want a refusal", err)
		}
		if len(from) > 0 {
			return
		}
		// A blob the media database references is missing from the store:
		// backup tries again, then fails, and leaves no manifest.
		if err := os.Remove(filepath.Join(dirA, "blobs", m.Blobs[0].SHA256[0:2], m.Blobs[0].SHA256[2:4], m.Blobs[0].SHA256)); err != nil {
			t.Fatal(err)
		}
		another := t.TempDir()
		if err := kbErr("backup", "--to", another, "--data-dir", dirA); err == nil || !strings.Contains(err.Error(), "not in the blob store") {
			t.Errorf("backup with a blob missing: %v, want a refusal", err)
		}
		if _, err := os.Stat(filepath.Join(another, manifestName)); err == nil {
			t.Error("a failed backup wrote a manifest")
		}
	})
}

// listings returns the resource names each list API answers.
func listings(t *testing.T, s *suite, child string, tokens map[string]string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	lists := []struct{ path, token string }{
		{"/v1/children", tokens["admin"]},
		{"/v1/" + child + "/guardians", tokens["admin"]},
		{"/v1/" + child + "/assessments?pageSize=1000", tokens["maria"]},
		{"/v1/" + child + "/milestones", tokens["maria"]},
		{"/v1/" + child + "/media", tokens["maria"]},
		{"/v1/users/me/notifications?pageSize=1000", tokens["maria"]},
		{"/v1/users/me/notifications?pageSize=1000", tokens["teacher"]},
	}
	for _, l := range lists {
		key := strings.Split(l.path, "?")[0]
		out[key] = append(out[key], listNames(t, s, l.path, l.token)...)
	}
	// Comments of every assessment, milestone and item.
	for _, kind := range []string{"assessments", "milestones", "media"} {
		for _, item := range out["/v1/"+child+"/"+kind] {
			out["comments"] = append(out["comments"], listNames(t, s, "/v1/"+item+"/comments", tokens["maria"])...)
		}
	}
	return out
}

// listNames returns the "name" fields of one list answer's items.
func listNames(t *testing.T, s *suite, path, token string) []string {
	t.Helper()
	r := s.call(t, "GET", path, token, "")
	if r.status != 200 {
		t.Fatalf("GET %s: %d %s", path, r.status, r.body)
	}
	var names []string
	for key, v := range r.json(t) {
		items, ok := v.([]any)
		if !ok {
			continue
		}
		for _, it := range items {
			if m, ok := it.(map[string]any); ok {
				name, _ := m["name"].(string)
				if name == "" {
					name = fmt.Sprintf("%s:%v", key, m["sequence"])
				}
				names = append(names, name)
			}
		}
	}
	return names
}

func sha(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// mustRun runs a kinbridge command line and fails the test if it fails.
func mustRun(t *testing.T, args ...string) {
	t.Helper()
	if err := kbErr(args...); err != nil {
		t.Fatalf("kinbridge %s: %v", strings.Join(args, " "), err)
	}
}

func kbErr(args ...string) error {
	var out, stderr bytes.Buffer
	if err := run(context.Background(), args, &out, &stderr); err != nil {
		return fmt.Errorf("%w\n%s", err, stderr.String())
	}
	return nil
}
