package deploy

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"debug/elf"
	"encoding/pem"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// TestImage builds the image from a freshly built binary, writes it as
// `make image` does (a docker-load tarball and an OCI layout), reads both
// back and checks the config (user, entrypoint, ports, environment,
// labels) and the files: the binary is the one given, static, and runs;
// the CA bundle parses; the data directory belongs to the user.
func TestImage(t *testing.T) {
	bin := kinbridgeBinary(t)
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	build := Build{Binary: bin, Version: testVersion, Revision: "0123456789abcdef", Created: created}
	img, err := build.Image()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tarFile := filepath.Join(dir, "kinbridge-image.tar")
	if err := WriteTarball(tarFile, testVersion, img); err != nil {
		t.Fatal(err)
	}
	if err := WriteLayout(filepath.Join(dir, "oci"), testVersion, img); err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()

	fromTar, err := tarball.ImageFromPath(tarFile, nil)
	if err != nil {
		t.Fatalf("the tarball does not load: %v", err)
	}
	idx, err := layout.ImageIndexFromPath(filepath.Join(dir, "oci"))
	if err != nil {
		t.Fatalf("the OCI layout does not load: %v", err)
	}
	manifest, err := idx.IndexManifest()
	if err != nil || len(manifest.Manifests) != 1 {
		t.Fatalf("the OCI layout holds %v images (%v), want 1", len(manifest.Manifests), err)
	}
	if got := manifest.Manifests[0].Digest; got != want {
		t.Errorf("the OCI layout's image is %v, want %v", got, want)
	}
	if mt := manifest.Manifests[0].MediaType; mt != types.OCIManifestSchema1 {
		t.Errorf("the layout's manifest is a %v, want an OCI manifest", mt)
	}
	fromLayout, err := idx.Image(want)
	if err != nil {
		t.Fatal(err)
	}

	for name, img := range map[string]v1.Image{"tarball": fromTar, "OCI layout": fromLayout} {
		t.Run(name, func(t *testing.T) {
			checkConfig(t, img, build)
			checkFiles(t, img, bin)
		})
	}
	t.Run("serve all", func(t *testing.T) { serveFromImage(t, fromTar) })

	// Built twice from the same input, the image is the same, byte for byte.
	again, err := build.Image()
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := again.Digest(); d != want {
		t.Errorf("a second build is %v, the first %v: the build is not reproducible", d, want)
	}
}

func checkConfig(t *testing.T, img v1.Image, build Build) {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != "linux" || cf.Architecture != "amd64" {
		t.Errorf("platform %s/%s, want linux/amd64", cf.OS, cf.Architecture)
	}
	c := cf.Config
	if c.User != "65532:65532" {
		t.Errorf("user %q, want 65532:65532 (not root, numeric)", c.User)
	}
	if uid, _, _ := strings.Cut(c.User, ":"); uid == "0" || uid == "root" || uid == "" {
		t.Errorf("the image runs as root (%q)", c.User)
	}
	if !slices.Equal(c.Entrypoint, []string{"/kinbridge"}) || !slices.Equal(c.Cmd, []string{"serve", "all"}) {
		t.Errorf("entrypoint %q cmd %q, want [/kinbridge] [serve all]", c.Entrypoint, c.Cmd)
	}
	ports := slices.Sorted(maps.Keys(c.ExposedPorts))
	if want := []string{"8080/tcp", "9101/tcp", "9102/tcp", "9103/tcp", "9464/tcp"}; !slices.Equal(ports, want) {
		t.Errorf("exposed ports %v, want %v", ports, want)
	}
	// Every port is a listener's default, and the environment points the
	// listener at all interfaces on that port.
	flags := serverFlags(t)["all"]
	for _, p := range Ports {
		def, ok := flags[p.Flag]
		if !ok {
			t.Errorf("kinbridge serve all has no --%s", p.Flag)
			continue
		}
		if _, port, _ := strings.Cut(def, ":"); port != strconv.Itoa(p.Port) {
			t.Errorf("--%s defaults to %q; the image exposes %d", p.Flag, def, p.Port)
		}
		if want := EnvName(p.Flag) + "=0.0.0.0:" + strconv.Itoa(p.Port); !slices.Contains(c.Env, want) {
			t.Errorf("env %q lacks %s", c.Env, want)
		}
	}
	if !slices.Contains(c.Env, "KINBRIDGE_DATA_DIR=/data") || c.WorkingDir != "/data" {
		t.Errorf("env %q, working dir %q: want the data dir /data", c.Env, c.WorkingDir)
	}
	if _, ok := c.Volumes["/data"]; !ok {
		t.Errorf("volumes %v lack /data", c.Volumes)
	}
	for k, want := range map[string]string{
		"org.opencontainers.image.version":  build.Version,
		"org.opencontainers.image.revision": build.Revision,
		"org.opencontainers.image.created":  "2026-01-02T03:04:05Z",
		"org.opencontainers.image.title":    "kinbridge",
	} {
		if c.Labels[k] != want {
			t.Errorf("label %s = %q, want %q", k, c.Labels[k], want)
		}
	}
	if !cf.Created.Time.Equal(build.Created) {
		t.Errorf("created %v, want %v", cf.Created.Time, build.Created)
	}
}

// checkFiles reads the image's files back: exactly what the image needs,
// the binary byte for byte, static, running.
func checkFiles(t *testing.T, img v1.Image, bin string) {
	t.Helper()
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("%d layers (%v), want 1 on an empty base", len(layers), err)
	}
	files := map[string]*tar.Header{}
	bodies := map[string][]byte{}
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		name := "/" + strings.TrimSuffix(h.Name, "/")
		files[name] = h
		if h.Typeflag == tar.TypeReg {
			bodies[name], _ = io.ReadAll(tr)
		}
	}
	names := slices.Sorted(maps.Keys(files))
	want := []string{"/data", "/etc", "/etc/group", "/etc/passwd", "/etc/ssl", "/etc/ssl/certs", CABundle, Binary, "/tmp"}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("the image holds %q, want %q", names, want)
	}
	if h := files["/data"]; h == nil || h.Uid != UID || h.Gid != GID || h.Typeflag != tar.TypeDir {
		t.Errorf("/data is %+v, want a directory of %d:%d", h, UID, GID)
	}
	if h := files[Binary]; h == nil || h.Mode&0o111 == 0 {
		t.Fatalf("%s is %+v, want an executable", Binary, h)
	}
	given, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	inside := bodies[Binary]
	if !bytes.Equal(inside, given) {
		t.Fatalf("%s in the image (%d bytes) is not the binary given (%d bytes)", Binary, len(inside), len(given))
	}
	f, err := elf.NewFile(bytes.NewReader(inside))
	if err != nil {
		t.Fatalf("%s is not ELF: %v", Binary, err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s has an ELF interpreter: not static, it cannot run on an empty base", Binary)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("%s links %v: not static", Binary, libs)
	}
	if f.Machine != elf.EM_X86_64 {
		t.Errorf("%s is for %v, want x86-64", Binary, f.Machine)
	}

	pool := x509.NewCertPool()
	rest, n := bodies[CABundle], 0
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			t.Fatalf("a certificate of %s does not parse: %v", CABundle, err)
		}
		pool.AppendCertsFromPEM(pem.EncodeToMemory(block))
		n++
	}
	if n < 100 || len(bytes.TrimSpace(rest)) != 0 {
		t.Errorf("%s holds %d certificates and %d bytes of something else; want Mozilla's roots (over 100)", CABundle, n, len(rest))
	}
	if !strings.Contains(string(bodies["/etc/passwd"]), ":65532:65532:") {
		t.Errorf("/etc/passwd names no user 65532:\n%s", bodies["/etc/passwd"])
	}

	// The binary taken out of the layer runs (this machine is linux/amd64,
	// as the image) and says the version it was built with.
	out := filepath.Join(t.TempDir(), "kinbridge")
	if err := os.WriteFile(out, inside, 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := exec.Command(out, "version").CombinedOutput()
	if err != nil || !strings.Contains(string(got), testVersion) {
		t.Errorf("/kinbridge version from the image: %v, %q; want %s", err, got, testVersion)
	}
}

// serveFromImage runs the image's binary as its entrypoint and command
// would (serve all, on SQLite and files in a data directory) with the
// listeners on ephemeral loopback ports, and waits until the gateway's
// /readyz says every service answers: the static binary serves.
func serveFromImage(t *testing.T, img v1.Image) {
	var inside []byte
	rc := mutate.Extract(img)
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("no %s in the image: %v", Binary, err)
		}
		if "/"+h.Name == Binary {
			inside, _ = io.ReadAll(tr)
			break
		}
	}
	rc.Close()
	dir := t.TempDir()
	bin := filepath.Join(dir, "kinbridge")
	if err := os.WriteFile(bin, inside, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, Cmd...)
	cmd.Env = []string{"HOME=" + dir, "KINBRIDGE_DATA_DIR=" + filepath.Join(dir, "data")}
	for _, p := range Ports {
		cmd.Env = append(cmd.Env, EnvName(p.Flag)+"=127.0.0.1:0")
	}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 20 * time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("kinbridge serve all's log:\n%s", stderr.String())
		}
	}()
	gatewayLine := regexp.MustCompile(`REST gateway\s+(http://\S+)`)
	var gateway string
	sc := bufio.NewScanner(stdout)
	for gateway == "" && sc.Scan() {
		if m := gatewayLine.FindStringSubmatch(sc.Text()); m != nil {
			gateway = m[1]
		}
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	if gateway == "" {
		t.Fatalf("serve all printed no gateway address (%v)", sc.Err())
	}
	for {
		resp, err := http.Get(gateway + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s/readyz never answered 200 (last: %v)", gateway, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
