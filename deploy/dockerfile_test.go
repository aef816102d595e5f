package deploy

import (
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// TestDockerfile parses the Dockerfile at the repository's root (it cannot
// be built here: no container daemon) with BuildKit's own parser, and
// checks that the image it describes runs as the image `make image`
// builds: same user, entrypoint, command, ports, environment and data
// directory, from a static binary.
func TestDockerfile(t *testing.T) {
	f, err := os.Open("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ast, err := parser.Parse(f)
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	for _, w := range ast.Warnings {
		t.Errorf("Dockerfile: %s", w.Short)
	}
	stages, _, err := instructions.Parse(ast.AST, nil)
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	if len(stages) != 2 {
		t.Fatalf("%d stages, want 2 (build, then the image)", len(stages))
	}
	if base := stages[1].BaseName; base != "scratch" && !strings.HasPrefix(base, "gcr.io/distroless/static") {
		t.Errorf("the image is based on %s; want an empty base (scratch or distroless/static)", base)
	}

	var static bool
	for _, cmd := range stages[0].Commands {
		if run, ok := cmd.(*instructions.RunCommand); ok {
			line := strings.Join(run.CmdLine, " ")
			static = static || (strings.Contains(line, "CGO_ENABLED=0") && strings.Contains(line, "./cmd/kinbridge"))
		}
	}
	if !static {
		t.Error("the build stage builds no static kinbridge (CGO_ENABLED=0 go build ./cmd/kinbridge)")
	}

	var (
		user, workdir    string
		entrypoint, cmd  []string
		ports, volumes   []string
		env              = map[string]string{}
		copiedTo         = map[string]string{} // destination -> chown
		versionLabelSeen bool
	)
	for _, c := range stages[1].Commands {
		switch c := c.(type) {
		case *instructions.UserCommand:
			user = c.User
		case *instructions.WorkdirCommand:
			workdir = c.Path
		case *instructions.EntrypointCommand:
			if c.PrependShell {
				t.Error("ENTRYPOINT in shell form: the image has no shell")
			}
			entrypoint = c.CmdLine
		case *instructions.CmdCommand:
			if c.PrependShell {
				t.Error("CMD in shell form: the image has no shell")
			}
			cmd = c.CmdLine
		case *instructions.ExposeCommand:
			ports = append(ports, c.Ports...)
		case *instructions.VolumeCommand:
			volumes = append(volumes, c.Volumes...)
		case *instructions.EnvCommand:
			for _, kv := range c.Env {
				env[kv.Key] = kv.Value
			}
		case *instructions.CopyCommand:
			copiedTo[c.DestPath] = c.Chown
		case *instructions.LabelCommand:
			for _, kv := range c.Labels {
				versionLabelSeen = versionLabelSeen || (kv.Key == "org.opencontainers.image.version" && strings.Contains(kv.Value, "VERSION"))
			}
		case *instructions.RunCommand:
			t.Errorf("RUN in the final stage (%v): it has no shell", c.CmdLine)
		}
	}
	if user != User {
		t.Errorf("USER %q, want %q", user, User)
	}
	if !slices.Equal(entrypoint, Entrypoint) || !slices.Equal(cmd, Cmd) {
		t.Errorf("ENTRYPOINT %q CMD %q, want %q %q", entrypoint, cmd, Entrypoint, Cmd)
	}
	slices.Sort(ports)
	if want := slices.Sorted(maps.Keys(ExposedPorts())); !slices.Equal(ports, want) {
		t.Errorf("EXPOSE %q, want %q", ports, want)
	}
	wantEnv := map[string]string{}
	for _, kv := range Env() {
		k, v, _ := strings.Cut(kv, "=")
		wantEnv[k] = v
	}
	if !maps.Equal(env, wantEnv) {
		t.Errorf("ENV %v, want %v", env, wantEnv)
	}
	if workdir != DataDir || !slices.Equal(volumes, []string{DataDir}) {
		t.Errorf("WORKDIR %q VOLUME %q, want %s", workdir, volumes, DataDir)
	}
	if _, ok := copiedTo[Binary]; !ok {
		t.Errorf("nothing is copied to %s (copies: %v)", Binary, copiedTo)
	}
	if chown := copiedTo[DataDir]; chown != User {
		t.Errorf("%s is copied with --chown=%q, want %s: the user must write there", DataDir, chown, User)
	}
	if !versionLabelSeen {
		t.Error("no org.opencontainers.image.version label from the VERSION build argument")
	}
}
