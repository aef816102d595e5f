package auth

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestLoadOrCreateKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "data", "keys", "user.pem")

	key, created, err := LoadOrCreateKey(path)
	if err != nil || !created {
		t.Fatalf("first LoadOrCreateKey: created=%v err=%v, want created", created, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := st.Mode().Perm(); mode != 0o600 {
		t.Errorf("key file mode = %v, want 0600", mode)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("key directory holds %d entries, want just the key (no temporary files)", len(entries))
	}

	again, created, err := LoadOrCreateKey(path)
	if err != nil || created {
		t.Fatalf("second LoadOrCreateKey: created=%v err=%v, want loaded", created, err)
	}
	if !again.Equal(key) {
		t.Error("second LoadOrCreateKey returned a different key")
	}
	loaded, err := LoadKey(path)
	if err != nil || !loaded.Equal(key) {
		t.Errorf("LoadKey = %v, want the created key", err)
	}
}

// `kinbridge serve all` starts every service at once; on first run they must
// all end up with the one key that was created.
func TestLoadOrCreateKeyConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "service.pem")
	const n = 8
	var wg sync.WaitGroup
	keys := make([][]byte, n)
	createdBy := make([]bool, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			k, c, err := LoadOrCreateKey(path)
			keys[i], createdBy[i], errs[i] = k, c, err
		})
	}
	wg.Wait()
	creators := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		if createdBy[i] {
			creators++
		}
		if string(keys[i]) != string(keys[0]) {
			t.Errorf("caller %d got a different key", i)
		}
	}
	if creators != 1 {
		t.Errorf("%d callers report creating the key, want 1", creators)
	}
}

func TestLoadKeyErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaDER, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
	_, edKey := newEd25519(t)
	edDER, _ := x509.MarshalPKCS8PrivateKey(edKey)

	tests := []struct {
		name     string
		path     string
		notExist bool
	}{
		{"missing file", filepath.Join(dir, "nope.pem"), true},
		{"not PEM", write("garbage.pem", []byte("hello")), false},
		{"wrong PEM type", write("type.pem", pem.EncodeToMemory(&pem.Block{Type: "ED25519 PRIVATE KEY", Bytes: edDER})), false},
		{"RSA key", write("rsa.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: rsaDER})), false},
		{"corrupt DER", write("der.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}})), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadKey(tt.path)
			if err == nil {
				t.Fatal("LoadKey succeeded")
			}
			if got := errors.Is(err, fs.ErrNotExist); got != tt.notExist {
				t.Errorf("errors.Is(err, fs.ErrNotExist) = %v, want %v (err: %v)", got, tt.notExist, err)
			}
			if !tt.notExist {
				// LoadOrCreateKey must not replace a key it cannot read.
				if _, _, err := LoadOrCreateKey(tt.path); err == nil {
					t.Error("LoadOrCreateKey overwrote an unreadable key file")
				}
			}
		})
	}
}

func TestKeyIDIsRFC7638Thumbprint(t *testing.T) {
	// RFC 8037 appendix A.3: thumbprint of the example Ed25519 key.
	x := []byte{0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe, 0xd3, 0xc9, 0x64, 0x07, 0x3a,
		0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6, 0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68, 0xf7, 0x07, 0x51, 0x1a}
	if got, want := KeyID(x), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"; got != want {
		t.Errorf("KeyID = %s, want %s", got, want)
	}
}
