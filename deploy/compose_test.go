package deploy

import (
	"context"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"sigs.k8s.io/yaml"
)

// composeEnv is what an operator exports before `docker compose up`.
var composeEnv = []string{"POSTGRES_PASSWORD=pg-sentinel", "MINIO_ROOT_PASSWORD=minio-sentinel", "GRAFANA_ADMIN_PASSWORD=grafana-sentinel"}

func loadCompose(t *testing.T, file string, env []string, more ...cli.ProjectOptionsFn) (*types.Project, error) {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{file},
		append([]cli.ProjectOptionsFn{cli.WithWorkingDirectory(filepath.Dir(file)), cli.WithEnv(env), cli.WithConsistency(true)}, more...)...)
	if err != nil {
		t.Fatal(err)
	}
	return opts.LoadProject(context.Background())
}

// TestCompose loads deploy/compose.yaml with compose-go, as docker compose
// does (the compose specification's schema, which refuses unknown keys,
// interpolation, consistency), and checks what a working deployment needs:
// every backend, each Kinbridge role set through variables the binary
// reads, dependencies that exist and wait on health checks, and no secret
// written in the file.
func TestCompose(t *testing.T) {
	p, err := loadCompose(t, "compose.yaml", composeEnv)
	if err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	for _, name := range []string{"postgres", "nats", "redis", "minio", "jaeger", "prometheus", "grafana"} {
		if _, ok := p.Services[name]; !ok {
			t.Errorf("no service %s", name)
		}
	}

	flags := serverFlags(t)
	envFlags := map[string]string{} // KINBRIDGE_X -> x
	for _, role := range roles {
		for f := range flags[role] {
			envFlags[EnvName(f)] = f
		}
	}
	for _, role := range roles {
		s, ok := p.Services[role]
		if !ok {
			t.Errorf("no service %s: compose runs each role on its own", role)
			continue
		}
		if !slices.Equal(s.Command, types.ShellCommand{"serve", role}) {
			t.Errorf("%s runs %q, want [serve %s]", role, s.Command, role)
		}
		if !s.ReadOnly {
			t.Errorf("%s: the root filesystem is writable", role)
		}
		for name, v := range s.Environment {
			if !strings.HasPrefix(name, "KINBRIDGE_") {
				continue
			}
			flag, ok := envFlags[name]
			if !ok {
				t.Errorf("%s: %s is no flag of kinbridge serve", role, name)
				continue
			}
			// A file the process reads must be mounted in it.
			if (flag == "user-key" || flag == "service-key") && v != nil {
				secret, found := strings.CutPrefix(*v, "/run/secrets/")
				if !found || !slices.ContainsFunc(s.Secrets, func(c types.ServiceSecretConfig) bool { return c.Source == secret }) {
					t.Errorf("%s: %s=%s is not one of its secrets", role, name, *v)
				}
			}
		}
		// Its own database is PostgreSQL; a split role on SQLite would
		// keep its data in one container.
		if role != "gateway" {
			if v := s.Environment[EnvName(role+"-db")]; v == nil || !strings.HasPrefix(*v, "postgres://") {
				t.Errorf("%s: %s is not a PostgreSQL URL", role, EnvName(role+"-db"))
			}
		}
		// The addresses of the others are the roles' services and ports.
		for _, other := range roles[:3] {
			if v := s.Environment[EnvName(other+"-addr")]; v == nil || *v != other+":"+strconv.Itoa(roleDefaultPort(t, other)) {
				t.Errorf("%s: %s = %v, want %s:%d", role, EnvName(other+"-addr"), v, other, roleDefaultPort(t, other))
			}
		}
	}
	checkComposeHealth(t, p)
	if v := p.Services["notification"].Environment["KINBRIDGE_NATS_URL"]; v == nil {
		t.Error("notification has no KINBRIDGE_NATS_URL: live feeds would not cross instances")
	}
	if v := p.Services["media"].Environment["KINBRIDGE_BLOB_URL"]; v == nil || !strings.HasPrefix(*v, "s3://") || !strings.Contains(*v, "@minio:9000/") {
		t.Errorf("media's KINBRIDGE_BLOB_URL = %v, want MinIO (s3://...@minio:9000/bucket)", v)
	}

	for name, s := range p.Services {
		if s.HealthCheck == nil || s.HealthCheck.Disable || len(s.HealthCheck.Test) == 0 {
			t.Errorf("%s has no health check", name)
		}
		for dep, d := range s.DependsOn {
			target, ok := p.Services[dep]
			if !ok {
				t.Errorf("%s depends on %s, which is not a service", name, dep)
				continue
			}
			if d.Condition == types.ServiceConditionHealthy && (target.HealthCheck == nil || len(target.HealthCheck.Test) == 0) {
				t.Errorf("%s waits for %s to be healthy, which has no health check", name, dep)
			}
		}
		for _, v := range s.Volumes {
			if v.Type == types.VolumeTypeBind {
				if _, err := os.Stat(v.Source); err != nil {
					t.Errorf("%s mounts %s: %v", name, v.Source, err)
				}
			}
		}
	}
	for name, sec := range p.Secrets {
		if sec.File == "" {
			t.Errorf("secret %s is not read from a file", name)
		}
	}
	checkNoInlineSecrets(t)

	// Without the passwords in its environment, compose refuses to start.
	if _, err := loadCompose(t, "compose.yaml", nil); err == nil || !strings.Contains(err.Error(), "PASSWORD") {
		t.Errorf("compose.yaml loads without passwords in the environment (%v): one is written in it or defaulted", err)
	}

	checkComposePrometheus(t, p.Services["prometheus"])
}

// checkComposeHealth: each Kinbridge container's health check is
// `/kinbridge health` (the image has nothing else to run), asking a
// service's gRPC readiness on its own port and the gateway's /readyz,
// within the check's timeout; the gateway waits for the services to be
// healthy.
func checkComposeHealth(t *testing.T, p *types.Project) {
	t.Helper()
	for _, role := range roles {
		s := p.Services[role]
		hc := s.HealthCheck
		if hc == nil || hc.Disable || len(hc.Test) < 3 || hc.Test[0] != "CMD" || hc.Test[1] != Binary {
			t.Errorf("%s: health check %+v, want [CMD %s health ...]", role, hc, Binary)
			continue
		}
		where := role + "'s health check"
		flags := parseHealth(t, where, hc.Test[2:])
		if role == "gateway" {
			if want := "http://127.0.0.1:" + itoa(Ports[0].Port) + "/readyz"; Ports[0].Flag != "gateway-listen" || flags["url"] != want {
				t.Errorf("%s asks %q, want --url %s", where, flags["url"], want)
			}
		} else if want := "127.0.0.1:" + itoa(roleDefaultPort(t, role)); flags["addr"] != want || flags["service"] != "" || flags["url"] != "" {
			t.Errorf("%s asks %q service %q, want the readiness of %s", where, flags["addr"], flags["service"], want)
		}
		if d, err := time.ParseDuration(flags["timeout"]); err != nil || hc.Timeout == nil || d >= time.Duration(*hc.Timeout) {
			t.Errorf("%s: --timeout %q, and the check's timeout %v: want the probe to give up first", where, flags["timeout"], hc.Timeout)
		}
		if role != "gateway" {
			if d, ok := p.Services["gateway"].DependsOn[role]; !ok || d.Condition != types.ServiceConditionHealthy {
				t.Errorf("the gateway does not wait for %s to be healthy: %+v", role, d)
			}
		}
	}
}

// checkComposePrometheus: compose's Prometheus loads deploy/alerts.yml
// (its rule_files resolve, in the container, to where alerts.yml is
// mounted), and promtool, when installed, checks the configuration and
// the rules laid out as the container sees them.
func checkComposePrometheus(t *testing.T, s types.ServiceConfig) {
	t.Helper()
	config := ""
	for _, arg := range s.Command {
		if v, ok := strings.CutPrefix(arg, "--config.file="); ok {
			config = v
		}
	}
	mounts := map[string]string{} // container path -> host file
	for _, v := range s.Volumes {
		if v.Type == types.VolumeTypeBind {
			mounts[v.Target] = v.Source
		}
	}
	host, ok := mounts[config]
	if !ok {
		t.Fatalf("prometheus reads %q, which is not mounted (%v)", config, mounts)
	}
	raw, err := os.ReadFile(host)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		RuleFiles []string `json:"rule_files"`
	}
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatalf("%s: %v", host, err)
	}
	alerts, err := filepath.Abs("alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	loaded := false
	for _, rf := range cfg.RuleFiles {
		if !path.IsAbs(rf) {
			rf = path.Join(path.Dir(config), rf)
		}
		src, ok := mounts[rf]
		if !ok {
			t.Errorf("rule_files: %s is not mounted in the prometheus container", rf)
		}
		loaded = loaded || src == alerts
	}
	if !loaded {
		t.Errorf("prometheus's rule_files %v load no mounted %s", cfg.RuleFiles, alerts)
	}

	promtool, err := exec.LookPath("promtool")
	if err != nil {
		return
	}
	// The container's files, under a directory of the test's own: the
	// check reads the rule files the configuration names.
	root := t.TempDir()
	for target, src := range mounts {
		b, err := os.ReadFile(src)
		if err != nil {
			continue // a directory (the data volume is no bind mount)
		}
		dst := filepath.Join(root, filepath.FromSlash(target))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command(promtool, "check", "config", filepath.Join(root, filepath.FromSlash(config))).CombinedOutput()
	if err != nil {
		t.Errorf("promtool check config %s, as mounted: %v\n%s", config, err, out)
	} else if !strings.Contains(string(out), "SUCCESS: 1 rule files found") {
		t.Errorf("promtool check config %s found no rule file:\n%s", config, out)
	}
}

// secretName is a variable whose value is, or holds, a secret.
var secretName = regexp.MustCompile(`PASSWORD|SECRET|_DB$|_URL$|_KEY$|TOKEN`)

// backendURL is a variable naming a backend that replicas must share.
var backendURL = regexp.MustCompile(`_DB$|^KINBRIDGE_(BLOB|NATS|REDIS)_URL$`)

// checkNoInlineSecrets reads compose.yaml uninterpolated: every secret
// variable takes its secret from the environment (${...}) or names a
// compose secret's file; none holds one written in the file.
func checkNoInlineSecrets(t *testing.T) {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{"compose.yaml"}, cli.WithWorkingDirectory("."), cli.WithEnv(composeEnv), cli.WithInterpolation(false))
	if err != nil {
		t.Fatal(err)
	}
	model, err := opts.LoadModel(context.Background())
	if err != nil {
		t.Fatalf("compose.yaml, uninterpolated: %v", err)
	}
	services, _ := model["services"].(map[string]any)
	if len(services) == 0 {
		t.Fatal("compose.yaml, uninterpolated: no services")
	}
	credentials := regexp.MustCompile(`://[^/@]*:[^/@]*@`) // user:password@ in a URL
	required := regexp.MustCompile(`^\$\{[A-Z_]+:\?[^}]*\}$`)
	for name, s := range services {
		env := map[string]string{}
		switch e := s.(map[string]any)["environment"].(type) {
		case map[string]any:
			for k, v := range e {
				env[k], _ = v.(string)
			}
		case []any:
			for _, kv := range e {
				k, v, _ := strings.Cut(kv.(string), "=")
				env[k] = v
			}
		}
		for k, v := range env {
			if !secretName.MatchString(k) {
				continue
			}
			switch {
			case strings.HasPrefix(v, "/run/secrets/"):
			case strings.Contains(k, "PASSWORD") || strings.Contains(k, "SECRET"):
				if !required.MatchString(v) {
					t.Errorf("%s: %s = %q; take it from the environment, required: ${NAME:?message}", name, k, v)
				}
			case credentials.MatchString(v):
				if m := credentials.FindString(v); !strings.Contains(m, ":${") {
					t.Errorf("%s: %s holds a password written in the file: %q", name, k, v)
				}
			}
		}
	}
}

// roleDefaultPort is the port of a gRPC role's --ROLE-listen default.
func roleDefaultPort(t *testing.T, role string) int {
	t.Helper()
	for _, p := range Ports {
		if p.Flag == role+"-listen" {
			return p.Port
		}
	}
	t.Fatalf("no port for %s", role)
	return 0
}

// TestComposeSchemaIsStrict shows that the loader refuses what the
// compose specification does not know, so TestCompose's load would catch
// a misspelt key.
func TestComposeSchemaIsStrict(t *testing.T) {
	raw, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(raw), "    command: [serve, progress]\n", "    command: [serve, progress]\n    helthcheck: {test: [CMD, true]}\n", 1)
	if bad == string(raw) {
		t.Fatal("compose.yaml has no progress command line to put a misspelt key after")
	}
	file := filepath.Join(t.TempDir(), "compose.yaml")
	if err := os.WriteFile(file, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := loadCompose(t, file, composeEnv); err == nil || !strings.Contains(err.Error(), "helthcheck") {
		t.Errorf("a misspelt key loads (%v)", err)
	}
}
