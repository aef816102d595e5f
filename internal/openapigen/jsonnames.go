package main

import (
	"regexp"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// The descriptions come from proto comments, which name fields as the
// protos spell them (`next_page_token`, `child.display_name`). A REST
// reader sends and receives JSON names, so a quoted field name becomes
// its JSON name (`nextPageToken`), as the gateway's field violations do.
// Only code spans are rewritten, and only when every dotted part is a field
// of the public APIs: prose and other code stay as written.

// codeSpan is one Markdown code span holding a snake_case (dotted) path.
var codeSpan = regexp.MustCompile("`([a-z][a-z0-9]*(?:[._][a-z0-9]+)+)`")

// protoJSONNames maps each field name of the public APIs that differs from
// its JSON name to that JSON name.
func protoJSONNames() map[string]string {
	out := map[string]string{}
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if !strings.HasPrefix(string(fd.Package()), "kinbridge.") || strings.Contains(string(fd.Package()), ".peer.") {
			return true
		}
		var walk func(ms protoreflect.MessageDescriptors)
		walk = func(ms protoreflect.MessageDescriptors) {
			for i := range ms.Len() {
				fields := ms.Get(i).Fields()
				for j := range fields.Len() {
					f := fields.Get(j)
					if string(f.Name()) != f.JSONName() {
						out[string(f.Name())] = f.JSONName()
					}
				}
				walk(ms.Get(i).Messages())
			}
		}
		walk(fd.Messages())
		return true
	})
	return out
}

// jsonNamesInDescriptions rewrites the field names in m's description and
// summary (an operation's first paragraph).
func jsonNamesInDescriptions(names map[string]string) func(m map[string]any) {
	return func(m map[string]any) {
		for _, key := range []string{"description", "summary"} {
			if d, ok := m[key].(string); ok {
				m[key] = jsonNamesIn(d, names)
			}
		}
	}
}

func jsonNamesIn(d string, names map[string]string) string {
	return codeSpan.ReplaceAllStringFunc(d, func(span string) string {
		parts := strings.Split(strings.Trim(span, "`"), ".")
		for i, p := range parts {
			if json, ok := names[p]; ok {
				parts[i] = json
			} else if strings.Contains(p, "_") {
				return span // not (only) field names: leave it
			}
		}
		return "`" + strings.Join(parts, ".") + "`"
	})
}
