package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// LoadOrCreateKey loads the Ed25519 private key at path, creating it first if
// the file does not exist. created reports whether this call made the key.
//
// The key is stored as a PKCS#8 PEM block in a file of mode 0600; missing parent
// directories are created with mode 0700. It is meant for the development
// signing keys kept in the data directory (data/keys/user.pem,
// data/keys/service.pem). Several goroutines or processes may call it for the
// same path at once (as `kinbridge serve all` does on first run): exactly one
// creates the key and all of them end up with the same key.
func LoadOrCreateKey(path string) (ed25519.PrivateKey, bool, error) {
	key, err := LoadKey(path)
	if err == nil {
		return key, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}

	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("auth: create key directory: %w", err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, false, fmt.Errorf("auth: generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, false, fmt.Errorf("auth: encode key: %w", err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})

	created, err := publishFile(dir, path, data)
	if err != nil {
		return nil, false, fmt.Errorf("auth: write key %s: %w", path, err)
	}
	if !created {
		// Someone else won the race; use their key so everyone agrees.
		key, err := LoadKey(path)
		return key, false, err
	}
	return priv, true, nil
}

// publishFile makes data appear at path completely or not at all, and never
// replaces an existing file. It writes a temporary file and hard-links it into
// place: the link fails if path exists, and readers never see a half-written
// key. It reports false if path already existed.
func publishFile(dir, path string, data []byte) (bool, error) {
	tmp, err := os.CreateTemp(dir, ".key-*")
	if err != nil {
		return false, err
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName)
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return false, err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Close(); err != nil {
		return false, err
	}
	switch err := os.Link(tmpName, path); {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrExist):
		return false, nil
	default:
		// Some filesystems (FAT, some network and container mounts) have no
		// hard links. Exclusive create still never clobbers a key; a reader
		// racing the write may then briefly see a short file and fail loudly.
		return createExclusive(path, data)
	}
}

func createExclusive(path string, data []byte) (bool, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return false, err
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return false, err
	}
	return true, nil
}

// LoadKey reads an Ed25519 private key stored as a PKCS#8 PEM block
// ("PRIVATE KEY"), as written by [LoadOrCreateKey] or by
// `openssl genpkey -algorithm ed25519`. A missing file yields an error
// matching fs.ErrNotExist.
func LoadKey(path string) (ed25519.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("auth: read key: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("auth: %s: no PKCS#8 \"PRIVATE KEY\" PEM block", path)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("auth: %s: %w", path, err)
	}
	key, ok := parsed.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("auth: %s: want an Ed25519 key, got %T", path, parsed)
	}
	return key, nil
}

// KeyID returns the RFC 7638 JWK thumbprint of pub. Built-in tokens carry it
// as their "kid" header, which lets the verifier pick the right key (user or
// service) before checking anything else, and lets people tell keys apart in
// logs without printing them.
func KeyID(pub ed25519.PublicKey) string {
	// RFC 7638: the required members in lexicographic order, no whitespace.
	canonical := `{"crv":"Ed25519","kty":"OKP","x":"` + base64.RawURLEncoding.EncodeToString(pub) + `"}`
	sum := sha256.Sum256([]byte(canonical))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
