package main

import (
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/kinbridge/kinbridge/pkg/testenv"
)

// bashComplete sources `kinbridge completion bash` in a real bash and
// returns what _kinbridge offers for the words, the cursor on the last.
func bashComplete(t *testing.T, bin string, words ...string) []string {
	t.Helper()
	quoted := make([]string, len(words))
	for i, w := range words {
		quoted[i] = "'" + w + "'"
	}
	script := `source <("$KB" completion bash) && COMP_WORDS=(kinbridge ` + strings.Join(quoted, " ") + `) && COMP_CWORD=` +
		strconv.Itoa(len(words)) + `; _kinbridge; printf '%s\n' "${COMPREPLY[@]}"`
	cmd := exec.Command("bash", "-c", script)
	cmd.Env = append(cmd.Environ(), "KB="+bin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bash: %v\n%s", err, out)
	}
	return strings.Fields(string(out))
}

func TestCompletionBash(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash here")
	}
	bin := buildKinbridge(t)
	var top []string
	for _, c := range commands() {
		top = append(top, c.name)
	}
	tests := []struct {
		words []string
		want  []string
	}{
		{[]string{""}, append(slices.Clone(top), "--help", "--version")},
		{[]string{"chi"}, []string{"children"}},
		{[]string{"children", ""}, []string{"create", "list", "get", "update", "delete"}},
		{[]string{"serve", "g"}, []string{"gateway"}},
		{[]string{"help", "me"}, []string{"media"}},
		{[]string{"help", "media", ""}, []string{"upload", "list", "get"}},
		{[]string{"completion", ""}, []string{"bash", "zsh", "fish"}},
		{[]string{"children", "get", "abc", "--t"}, []string{"--timeout", "--tls-ca", "--tls-cert", "--tls-key", "--token"}},
		{[]string{"media", "list", "--"}, []string{"--child", "--from", "--json", "--kind", "--media-addr", "--page-size", "--timeout", "--tls-ca", "--tls-cert", "--tls-key", "--to", "--token"}},
		{[]string{"summary", "--"}, []string{"--addr", "--from", "--json", "--timeout", "--tls-ca", "--tls-cert", "--tls-key", "--to", "--token"}},
		{[]string{"serve", "all", "--gateway-l"}, []string{"--gateway-listen"}},
		{[]string{"health", "--"}, []string{"--addr", "--service", "--timeout", "--tls-ca", "--tls-cert", "--tls-key", "--tls-server-name", "--url"}},
		// A flag's value and the arguments are left to file names.
		{[]string{"children", "get", "--addr", ""}, nil},
		{[]string{"media", "upload", ""}, nil},
		{[]string{"nope", "--"}, nil},
	}
	for _, tt := range tests {
		got := bashComplete(t, bin, tt.words...)
		if !slices.Equal(got, tt.want) {
			t.Errorf("kinbridge %s<TAB>: %q, want %q", strings.Join(tt.words, " "), got, tt.want)
		}
	}

	// Every command's flags, as its -h shows them, and nothing else.
	for _, l := range leaves() {
		var want []string
		for _, f := range commandFlags(l.cmd, l.sub, l.path) {
			want = append(want, "--"+f.Name)
		}
		words := append(strings.Fields(l.path), "--")
		if got := bashComplete(t, bin, words...); !slices.Equal(got, want) {
			t.Errorf("kinbridge %s --<TAB>: %q, want %q", l.path, got, want)
		}
	}
}

// TestCompletionZshAndFish loads the zsh and fish scripts in those shells
// when they are installed; the zsh one is the bash script run by zsh's
// bashcompinit.
func TestCompletionZshAndFish(t *testing.T) {
	bin := buildKinbridge(t)
	t.Run("zsh", func(t *testing.T) {
		if _, err := exec.LookPath("zsh"); err != nil {
			testenv.SkipOrFail(t, "zsh", "zsh is not on PATH (apt-get install zsh): its completion script is not loaded")
		}
		// bashcompinit calls completion functions with sh's options, arrays
		// from 0; zsh filters the words itself, so all come back.
		cmd := exec.Command("zsh", "-c", `source <("$KB" completion zsh) && emulate sh && `+
			`COMP_WORDS=(kinbridge media list --) && COMP_CWORD=3; _kinbridge; print -l -- "${COMPREPLY[@]}"`)
		cmd.Env = append(cmd.Environ(), "KB="+bin)
		out, err := cmd.CombinedOutput()
		if err != nil || !slices.Contains(strings.Fields(string(out)), "--media-addr") {
			t.Fatalf("zsh: %v\n%s", err, out)
		}
	})
	t.Run("fish", func(t *testing.T) {
		if _, err := exec.LookPath("fish"); err != nil {
			testenv.SkipOrFail(t, "fish", "fish is not on PATH (apt-get install fish): its completion script is not loaded")
		}
		cmd := exec.Command("fish", "-c", `"$KB" completion fish | source; complete -C "kinbridge media list --"; echo; complete -C "kinbridge chi"; echo; complete -C "kinbridge help media "`)
		cmd.Env = append(cmd.Environ(), "KB="+bin)
		out, err := cmd.CombinedOutput()
		if err != nil || strings.Contains(string(out), "rror") {
			t.Fatalf("fish: %v\n%s", err, out)
		}
		var words []string
		for line := range strings.Lines(string(out)) {
			word, _, _ := strings.Cut(strings.TrimSpace(line), "\t")
			words = append(words, word)
		}
		for _, want := range []string{"--media-addr", "--child", "children", "upload"} {
			if !slices.Contains(words, want) {
				t.Errorf("fish offers no %s:\n%s", want, out)
			}
		}
		if slices.Contains(words, "--addr") {
			t.Errorf("fish offers media list --addr, which it does not take:\n%s", out)
		}
	})
}
