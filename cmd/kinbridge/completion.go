package main

// `kinbridge completion bash|zsh|fish` prints a script that completes
// kinbridge's commands, subcommands and each command's flags. The script
// is generated from the command tables, and each command's flags are the
// ones its -h shows, so completion cannot drift from the commands.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/template"
)

const completionUsage = "bash|zsh|fish"

// completionShells are what `completion` writes a script for.
var completionShells = []string{"bash", "zsh", "fish"}

func completionRun(_ context.Context, cmd *cmdline, args []string) error {
	args, err := cmd.parse(args)
	if err != nil {
		return err
	}
	if err := cmd.wantArgs(args, 1); err != nil {
		return err
	}
	tree := completionTree()
	switch args[0] {
	case "bash":
		return bashTemplate.Execute(cmd.stdout, tree)
	case "zsh":
		// zsh runs the bash script through its bash completion layer:
		// one script to keep right, not two.
		fmt.Fprint(cmd.stdout, "# zsh completion for kinbridge: source <(kinbridge completion zsh)\n"+
			"autoload -U +X compinit && compinit\nautoload -U +X bashcompinit && bashcompinit\n")
		return bashTemplate.Execute(cmd.stdout, tree)
	case "fish":
		return fishTemplate.Execute(cmd.stdout, tree)
	}
	return usagef("no completion for %q: give one of %s", args[0], strings.Join(completionShells, ", "))
}

// complCommand is a top-level command as completion sees it.
type complCommand struct {
	Name, About string
	Subs        []complLeaf // a group's subcommands
	Self        *complLeaf  // or the command itself
}

// complLeaf is a command that runs: its flags, and the words its first
// arguments can be.
type complLeaf struct {
	Path, Name, About string
	Flags             []complFlag
	Args              []string // words for its first argument (help, completion)
	Files             bool     // its arguments include a FILE
}

type complFlag struct {
	Name, Usage string
	Value       bool // takes a value
}

// completionTree walks the command tables.
func completionTree() []complCommand {
	var tree []complCommand
	for _, c := range commands() {
		cc := complCommand{Name: c.name, About: c.about}
		if c.self != nil {
			leaf := complLeafOf(c, *c.self, c.name)
			cc.Self = &leaf
		}
		for _, sub := range c.subs {
			cc.Subs = append(cc.Subs, complLeafOf(c, sub, c.name+" "+sub.name))
		}
		tree = append(tree, cc)
	}
	return tree
}

func complLeafOf(c command, sub subcommand, path string) complLeaf {
	leaf := complLeaf{Path: path, Name: sub.name, About: sub.about, Files: strings.Contains(sub.usage, "FILE")}
	for _, f := range commandFlags(c, sub, path) {
		leaf.Flags = append(leaf.Flags, complFlag{Name: f.Name, Usage: firstLine(f.Usage), Value: !isBoolFlag(f)})
	}
	switch path {
	case "help":
		for _, top := range commands() {
			leaf.Args = append(leaf.Args, top.name)
		}
	case "completion":
		leaf.Args = completionShells
	}
	return leaf
}

// commandFlags returns the flags a command's -h shows: each command
// defines its flags and then parses, so running it with -h defines them
// and stops there.
func commandFlags(c command, sub subcommand, path string) []*flag.Flag {
	cmd := newCmdline(path, sub.usage, c.api, io.Discard, io.Discard)
	if err := sub.run(context.Background(), cmd, []string{"-h"}); !errors.Is(err, flag.ErrHelp) {
		panic(fmt.Sprintf("kinbridge %s -h: %v, not help", path, err))
	}
	var flags []*flag.Flag
	cmd.local.VisitAll(func(f *flag.Flag) { flags = append(flags, f) })
	cmd.global.FlagSet().VisitAll(func(f *flag.Flag) { flags = append(flags, f) })
	slices.SortFunc(flags, func(a, b *flag.Flag) int { return strings.Compare(a.Name, b.Name) })
	return flags
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

var templateFuncs = template.FuncMap{
	"fishq": func(s string) string {
		return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
	},
	"join": strings.Join,
	"names": func(leaves []complLeaf) string {
		names := make([]string, len(leaves))
		for i, l := range leaves {
			names[i] = l.Name
		}
		return strings.Join(names, " ")
	},
	"flagWords": func(flags []complFlag) string {
		words := make([]string, len(flags))
		for i, f := range flags {
			words[i] = "--" + f.Name
		}
		return strings.Join(words, " ")
	},
	"valued": func(flags []complFlag) string {
		var names []string
		for _, f := range flags {
			if f.Value {
				names = append(names, f.Name)
			}
		}
		return strings.Join(names, " ")
	},
}

// The bash script completes, by the words before the cursor: a command;
// a group's subcommand; a command's flags (after a -); the words of help
// and completion's arguments. A flag's value and other arguments are left
// to bash's file names (complete -o default).
var bashTemplate = template.Must(template.New("bash").Funcs(templateFuncs).Parse(`# bash completion for kinbridge: source <(kinbridge completion bash)
_kinbridge() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    local leaf="" args="" flags="" valued="" group="" n=2
    COMPREPLY=()
    if ((COMP_CWORD == 1)); then
        COMPREPLY=($(compgen -W "{{range .}}{{.Name}} {{end}}--help --version" -- "$cur"))
        return
    fi
    case ${COMP_WORDS[1]} in
{{- range .}}{{if .Subs}}
    {{.Name}})
        if ((COMP_CWORD == 2)); then
            COMPREPLY=($(compgen -W "{{names .Subs}}" -- "$cur"))
            return
        fi
        leaf="{{.Name}} ${COMP_WORDS[2]}" n=3 ;;
{{- end}}{{end}}
    *) leaf=${COMP_WORDS[1]} ;;
    esac
    case $leaf in
{{- range .}}{{range .Subs}}
    "{{.Path}}") flags="{{flagWords .Flags}}" valued=" {{valued .Flags}} " ;;
{{- end}}{{with .Self}}
    "{{.Path}}") flags="{{flagWords .Flags}}" valued=" {{valued .Flags}} " args="{{join .Args " "}}" ;;
{{- end}}{{end}}
    *) return ;;
    esac
    local p=${prev#-}
    p=${p#-}
    if [[ $prev == -* && $prev != *=* && $valued == *" $p "* ]]; then
        return # the flag's value
    fi
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$flags" -- "$cur"))
    elif [[ $leaf == help ]]; then
        if ((COMP_CWORD == 2)); then
            COMPREPLY=($(compgen -W "$args" -- "$cur"))
        elif ((COMP_CWORD == 3)); then
            case ${COMP_WORDS[2]} in
{{- range .}}{{if .Subs}}
            {{.Name}}) COMPREPLY=($(compgen -W "{{names .Subs}}" -- "$cur")) ;;
{{- end}}{{end}}
            esac
        fi
    elif [[ -n $args ]] && ((COMP_CWORD == n)); then
        COMPREPLY=($(compgen -W "$args" -- "$cur"))
    fi
}
complete -o default -F _kinbridge kinbridge
`))

// The fish script does the same with fish's own conditions: __kinbridge_is
// says the words typed so far are exactly these, __kinbridge_in that they
// start with these.
var fishTemplate = template.Must(template.New("fish").Funcs(templateFuncs).Parse(`# fish completion for kinbridge: kinbridge completion fish | source
function __kinbridge_in
    set -l words (commandline -opc)
    test (count $words) -gt (count $argv); or return 1
    for i in (seq (count $argv))
        set -l j (math $i + 1)
        test "$words[$j]" = "$argv[$i]"; or return 1
    end
end
function __kinbridge_is
    set -l words (commandline -opc)
    test (count $words) -eq (math (count $argv) + 1); and __kinbridge_in $argv
end
complete -c kinbridge -f
complete -c kinbridge -n __kinbridge_is -l help -d 'print the usage'
complete -c kinbridge -n __kinbridge_is -l version -d 'print the version'
{{- range .}}
complete -c kinbridge -n __kinbridge_is -a {{.Name}} -d {{fishq .About}}
{{- $group := .Name}}{{range .Subs}}
complete -c kinbridge -n '__kinbridge_is {{$group}}' -a {{.Name}} -d {{fishq .About}}
{{- $path := .Path}}{{range .Flags}}
complete -c kinbridge -n '__kinbridge_in {{$path}}' -l {{.Name}}{{if .Value}} -r -F{{end}} -d {{fishq .Usage}}
{{- end}}{{end}}{{with .Self}}{{$path := .Path}}{{range .Flags}}
complete -c kinbridge -n '__kinbridge_in {{$path}}' -l {{.Name}}{{if .Value}} -r -F{{end}} -d {{fishq .Usage}}
{{- end}}{{range .Args}}
complete -c kinbridge -n '__kinbridge_is {{$path}}' -a {{.}}
{{- end}}{{end}}{{end}}
{{- range .}}{{if .Subs}}{{$group := .Name}}{{range .Subs}}
complete -c kinbridge -n '__kinbridge_is help {{$group}}' -a {{.Name}}
{{- end}}{{end}}{{end}}
{{- range .}}{{range .Subs}}{{if .Files}}
complete -c kinbridge -n '__kinbridge_in {{.Path}}' -F
{{- end}}{{end}}{{end}}
`))
