package client

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// DefaultStateDir is where unfinished uploads are usually remembered: the
// XDG state directory ($XDG_STATE_HOME/kinbridge/uploads, else
// ~/.local/state/kinbridge/uploads), or the platform's cache directory
// where there is none; "" when there is no such directory.
func DefaultStateDir() string {
	if d := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "kinbridge", "uploads")
	}
	if runtime.GOOS != "windows" && runtime.GOOS != "darwin" {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, ".local", "state", "kinbridge", "uploads")
		}
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "kinbridge", "uploads")
	}
	return ""
}

// uploadState is what is remembered of an unfinished upload: enough to
// find its session again, and the SHA-256 of its bytes so a resumed run
// need not read them all once more before sending the rest.
type uploadState struct {
	Path    string `json:"path"` // the file's absolute path, or the ResumeKey
	Size    int64  `json:"size"`
	ModTime int64  `json:"mod_time_unix_nano"`
	Child   string `json:"child"`
	Session string `json:"session,omitempty"`
	SHA256  string `json:"sha256,omitempty"`
	// ExpireTime is when the session expires unless written to; state
	// files long past it are removed.
	ExpireTime time.Time `json:"expire_time"`
}

// file is the state file of an upload: one per path, size, modification
// time and child, so an edited file is a new upload.
func (s uploadState) file(dir string) string {
	key := strings.Join([]string{s.Path, strconv.FormatInt(s.Size, 10), strconv.FormatInt(s.ModTime, 10), s.Child}, "\x00")
	sum := sha256.Sum256([]byte(key))
	return filepath.Join(dir, hex.EncodeToString(sum[:16])+".json")
}

// same reports whether o is about the same upload as s.
func (s uploadState) same(o uploadState) bool {
	return s.Path == o.Path && s.Size == o.Size && s.ModTime == o.ModTime && s.Child == o.Child
}

// staleStateAge is how long past its session's expiry a state file is
// kept: the session is gone by then, and its file only clutters the dir.
const staleStateAge = 7 * 24 * time.Hour

// recall returns the remembered state of this upload, if there is a
// usable one; an unreadable one, or one of another upload, is removed.
func (u *uploader) recall() (uploadState, bool) {
	if u.dir == "" {
		return uploadState{}, false
	}
	b, err := os.ReadFile(u.state.file(u.dir))
	if errors.Is(err, os.ErrNotExist) {
		return uploadState{}, false
	}
	var saved uploadState
	if err == nil {
		err = json.Unmarshal(b, &saved)
	}
	if err != nil || !saved.same(u.state) || saved.Session == "" || saved.SHA256 == "" {
		u.forget() // start afresh
		return uploadState{}, false
	}
	return saved, true
}

// remember writes the state file, atomically: a crash never leaves half a
// file.
func (u *uploader) remember() error {
	if u.dir == "" {
		return nil
	}
	if err := os.MkdirAll(u.dir, 0o700); err != nil {
		return err
	}
	b, err := json.MarshalIndent(u.state, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(u.dir, ".upload-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), u.state.file(u.dir))
}

// forget removes the state file.
func (u *uploader) forget() {
	if u.dir == "" {
		return
	}
	if err := os.Remove(u.state.file(u.dir)); err != nil && !errors.Is(err, os.ErrNotExist) {
		u.warn(err)
	}
}

// pruneStates removes state files of sessions long expired.
func (u *uploader) pruneStates() {
	if u.dir == "" {
		return
	}
	entries, err := os.ReadDir(u.dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		path := filepath.Join(u.dir, e.Name())
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		var s uploadState
		if json.Unmarshal(b, &s) == nil && !s.ExpireTime.IsZero() && time.Since(s.ExpireTime) > staleStateAge {
			os.Remove(path)
		}
	}
}
