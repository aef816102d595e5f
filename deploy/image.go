// Package deploy builds Kinbridge's OCI image without a container daemon,
// and holds what the image, the Dockerfile, the compose file and the Helm
// chart must agree on (user, entrypoint, ports, data directory); the
// tests beside it check each of them against these.
package deploy

import (
	"archive/tar"
	"bytes"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// What every packaging of Kinbridge shares. The Dockerfile, compose.yaml
// and the Helm chart repeat these values; their tests compare them here.
const (
	// UID and GID run the server: not root, and a number, so that
	// Kubernetes' runAsNonRoot can check it without reading /etc/passwd.
	UID = 65532
	GID = 65532
	// Binary is where the image holds the kinbridge binary; it is the
	// entrypoint.
	Binary = "/kinbridge"
	// DataDir is the writable directory for local state (--data-dir):
	// SQLite databases, uploads in progress, dev keys. Mount a volume here.
	DataDir = "/data"
	// CABundle is where the roots that verify TLS servers live: Go's
	// crypto/x509 reads this path on Linux.
	CABundle = "/etc/ssl/certs/ca-certificates.crt"
	// ImageName is the name `make image` tags the tarball with.
	ImageName = "kinbridge"
)

// User is the image's user, as the OCI config and the Dockerfile write it.
var User = strconv.Itoa(UID) + ":" + strconv.Itoa(GID)

// Entrypoint and Cmd: `docker run kinbridge` serves everything in one
// process; `docker run kinbridge serve gateway` runs one role.
var (
	Entrypoint = []string{Binary}
	Cmd        = []string{"serve", "all"}
)

// Port is a listener of the server: its flag and its default port (the
// default of the flag in cmd/kinbridge/settings.go; the tests check it).
type Port struct {
	Flag string // e.g. "gateway-listen"
	Port int
}

// Ports are the listeners the image exposes, in a fixed order.
var Ports = []Port{
	{"gateway-listen", 8080},
	{"progress-listen", 9101},
	{"media-listen", 9102},
	{"notification-listen", 9103},
	{"metrics-listen", 9464},
}

// Env is the image's environment: the data directory, and every listener
// on all interfaces, since a container's loopback is reachable from
// nowhere (the binary's defaults are loopback addresses).
func Env() []string {
	env := []string{"KINBRIDGE_DATA_DIR=" + DataDir}
	for _, p := range Ports {
		env = append(env, fmt.Sprintf("%s=0.0.0.0:%d", EnvName(p.Flag), p.Port))
	}
	return env
}

// EnvName is the environment variable of a flag, as pkg/config names it:
// "progress-db" is KINBRIDGE_PROGRESS_DB.
func EnvName(flag string) string {
	b := []byte("KINBRIDGE_")
	for _, c := range []byte(flag) {
		switch {
		case c == '-':
			c = '_'
		case 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		}
		b = append(b, c)
	}
	return string(b)
}

// ExposedPorts returns the exposed ports as the OCI config keys them
// ("8080/tcp").
func ExposedPorts() map[string]struct{} {
	ports := map[string]struct{}{}
	for _, p := range Ports {
		ports[strconv.Itoa(p.Port)+"/tcp"] = struct{}{}
	}
	return ports
}

// Build describes one image build.
type Build struct {
	Binary   string    // path of a static linux/amd64 kinbridge binary
	Version  string    // `git describe`; the org.opencontainers.image.version label
	Revision string    // the commit id; the org.opencontainers.image.revision label
	Created  time.Time // the time stamp of the image and its files: the commit's time keeps builds reproducible
}

// Image lays the binary, the CA bundle, /etc/passwd and /etc/group
// naming the user, and the data directory into one layer on an empty
// base, and writes the config: user, entrypoint, ports, environment,
// labels.
func (b Build) Image() (v1.Image, error) {
	bin, err := os.ReadFile(b.Binary)
	if err != nil {
		return nil, err
	}
	layerTar, err := b.layer(bin)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History:   v1.History{Created: v1.Time{Time: b.Created}, CreatedBy: "kinbridge deploy/cmd/kinbridge-image", Comment: "kinbridge, CA bundle, user, " + DataDir},
	})
	if err != nil {
		return nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.Architecture, cfg.OS = "amd64", "linux"
	cfg.Created = v1.Time{Time: b.Created}
	cfg.Config = v1.Config{
		User:         User,
		Entrypoint:   Entrypoint,
		Cmd:          Cmd,
		Env:          Env(),
		ExposedPorts: ExposedPorts(),
		WorkingDir:   DataDir,
		Volumes:      map[string]struct{}{DataDir: {}},
		Labels:       b.Labels(),
		StopSignal:   "SIGTERM",
	}
	return mutate.ConfigFile(img, cfg)
}

// Labels are the image's OCI annotations.
func (b Build) Labels() map[string]string {
	return map[string]string{
		"org.opencontainers.image.title":       "kinbridge",
		"org.opencontainers.image.description": "Kinbridge: progress, media, notification services and the REST gateway, in one binary",
		"org.opencontainers.image.version":     b.Version,
		"org.opencontainers.image.revision":    b.Revision,
		"org.opencontainers.image.created":     b.Created.UTC().Format(time.RFC3339),
		"org.opencontainers.image.source":      "https://github.com/kinbridge/kinbridge",
	}
}

// layer returns the image's only layer as an uncompressed tar.
func (b Build) layer(bin []byte) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dir := func(name string, mode int64, uid, gid int) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, Uid: uid, Gid: gid, ModTime: b.Created, Format: tar.FormatPAX})
	}
	file := func(name string, mode int64, body []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(body)), ModTime: b.Created, Format: tar.FormatPAX}); err != nil {
			return err
		}
		_, err := tw.Write(body)
		return err
	}
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%d:%d:kinbridge:%s:/sbin/nologin\n", UID, GID, DataDir)
	group := fmt.Sprintf("root:x:0:\nnonroot:x:%d:\n", GID)
	steps := []func() error{
		func() error { return dir("etc", 0o755, 0, 0) },
		func() error { return file("etc/passwd", 0o644, []byte(passwd)) },
		func() error { return file("etc/group", 0o644, []byte(group)) },
		func() error { return dir("etc/ssl", 0o755, 0, 0) },
		func() error { return dir("etc/ssl/certs", 0o755, 0, 0) },
		func() error { return file(CABundle[1:], 0o644, CACertificates()) },
		// Go's os.TempDir; nothing of Kinbridge's lives there.
		func() error { return dir("tmp", 0o1777, 0, 0) },
		func() error { return dir(DataDir[1:], 0o750, UID, GID) },
		func() error { return file(Binary[1:], 0o755, bin) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// CACertificates returns the PEM bundle of the roots of Mozilla's NSS
// trust store, as golang.org/x/crypto/x509roots/fallback (pinned in
// go.mod) embeds them: the same bundle on every machine that builds the
// image, updated by bumping one module. Roots with a constraint a PEM file
// cannot carry (distrust after a date) are left out.
func CACertificates() []byte {
	var out bytes.Buffer
	for r := range bundle.Roots() {
		if r.Constraint == nil {
			_ = pem.Encode(&out, &pem.Block{Type: "CERTIFICATE", Bytes: r.Certificate})
		}
	}
	return out.Bytes()
}

// WriteTarball writes img as a `docker load` / `podman load` tarball,
// tagged ImageName:tag and ImageName:latest (what compose.yaml runs).
func WriteTarball(file, tag string, img v1.Image) error {
	refs := map[name.Reference]v1.Image{}
	for _, t := range []string{tag, "latest"} {
		ref, err := name.NewTag(ImageName + ":" + t)
		if err != nil {
			return err
		}
		refs[ref] = img
	}
	return tarball.MultiRefWriteToFile(file, refs)
}

// WriteLayout writes img as an OCI image layout directory (skopeo, crane,
// podman and registries' tools read it), replacing what dir held.
func WriteLayout(dir, tag string, img v1.Image) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	return p.AppendImage(img, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": tag,
	}))
}
