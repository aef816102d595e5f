package main

import (
	"fmt"
	"slices"
	"strings"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"
	"github.com/getkin/kin-openapi/openapi3"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	// The public APIs, registered for their descriptors.
	_ "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/v1"
	_ "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
	_ "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
)

// Which fields are required comes from the protos' validation rules, the
// rules the services enforce, so the spec cannot promise less or more than
// the server checks:
//
//   - a field with (buf.validate.field).required, or a string with min_len or
//     a repeated field with min_items (and no IGNORE_IF_ZERO_VALUE), is
//     required wherever its message is;
//   - a create method's body field (`post` with `body: "child"`) whose CEL
//     rules are conjunctions of `this.f != <zero>` requires those fields of
//     the message it creates: "display_name is required when creating a
//     child" is the rule `this.display_name != ''` on
//     CreateChildRequest.child. Such a schema is the resource as created and
//     as returned; updates send their own schema (the resource less its
//     name), which requires nothing, as update masks may name any subset.
//
// Output-only fields are marked in the protos with protoc-gen-openapiv2's
// read_only option, which becomes readOnly here unchanged.

// markRequired sets the required list of each schema that is a message.
func markRequired(doc *openapi3.T, messages map[string]string) error {
	onCreate, err := createRequirements()
	if err != nil {
		return err
	}
	for name, ref := range doc.Components.Schemas {
		fqn, ok := messages[name]
		if !ok || ref.Value == nil {
			continue
		}
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(fqn))
		if err != nil {
			continue // a well-known type: google.rpc.Status, google.protobuf.Any
		}
		md, ok := d.(protoreflect.MessageDescriptor)
		if !ok {
			continue // an enum
		}
		required := slices.Clone(ref.Value.Required)
		for i := range md.Fields().Len() {
			if fd := md.Fields().Get(i); alwaysRequired(fd) {
				required = append(required, fd.JSONName())
			}
		}
		required = append(required, onCreate[md.FullName()]...)
		for _, field := range required {
			if ref.Value.Properties[field] == nil {
				return fmt.Errorf("%s: required field %s is not among its properties", name, field)
			}
		}
		slices.Sort(required)
		ref.Value.Required = slices.Compact(required)
	}
	return nil
}

func fieldRules(fd protoreflect.FieldDescriptor) *validate.FieldRules {
	rules, _ := proto.GetExtension(fd.Options(), validate.E_Field).(*validate.FieldRules)
	return rules
}

// alwaysRequired says fd's own rules refuse it when it is absent.
func alwaysRequired(fd protoreflect.FieldDescriptor) bool {
	rules := fieldRules(fd)
	if rules == nil || fd.ContainingOneof() != nil {
		return false // a oneof's member is required only if it is the one set
	}
	if rules.GetRequired() {
		return true
	}
	if rules.GetIgnore() == validate.Ignore_IGNORE_IF_ZERO_VALUE {
		return false
	}
	return rules.GetString().GetMinLen() > 0 || rules.GetRepeated().GetMinItems() > 0
}

// createRequirements maps each message created by a `post` route whose
// body is one field to the JSON names of the fields its CEL rules require.
func createRequirements() (map[protoreflect.FullName][]string, error) {
	env, err := createEnv()
	if err != nil {
		return nil, err
	}
	out := map[protoreflect.FullName][]string{}
	var errs []error
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if !strings.HasPrefix(string(fd.Package()), "kinbridge.") {
			return true
		}
		for i := range fd.Services().Len() {
			methods := fd.Services().Get(i).Methods()
			for j := range methods.Len() {
				m := methods.Get(j)
				rule, _ := proto.GetExtension(m.Options(), annotations.E_Http).(*annotations.HttpRule)
				if rule.GetPost() == "" || rule.GetBody() == "" || rule.GetBody() == "*" {
					continue
				}
				body := m.Input().Fields().ByName(protoreflect.Name(rule.GetBody()))
				if body == nil || body.Message() == nil {
					continue
				}
				for _, c := range fieldRules(body).GetCel() {
					names, err := nonZeroFields(env, c.GetExpression())
					if err != nil {
						errs = append(errs, fmt.Errorf("%s: %w", body.FullName(), err))
						continue
					}
					for _, n := range names {
						f := body.Message().Fields().ByName(protoreflect.Name(n))
						if f == nil {
							errs = append(errs, fmt.Errorf("%s: the rule names %s, which %s does not have", body.FullName(), n, body.Message().FullName()))
							continue
						}
						out[body.Message().FullName()] = append(out[body.Message().FullName()], f.JSONName())
					}
				}
			}
		}
		return true
	})
	if len(errs) > 0 {
		return nil, fmt.Errorf("%v", errs)
	}
	return out, nil
}

// createEnv parses the CEL rules of a field, which call it `this`.
func createEnv() (*cel.Env, error) {
	return cel.NewEnv(cel.Variable("this", cel.DynType))
}

// nonZeroFields returns f of every conjunct `this.f != <zero value>` of
// expr, or none when expr is something else (a rule that is not about
// presence).
func nonZeroFields(env *cel.Env, expr string) ([]string, error) {
	parsed, iss := env.Parse(expr)
	if iss.Err() != nil {
		return nil, iss.Err()
	}
	var names []string
	var walk func(e celast.Expr) bool
	walk = func(e celast.Expr) bool {
		if e.Kind() != celast.CallKind {
			return false
		}
		call := e.AsCall()
		switch call.FunctionName() {
		case operators.LogicalAnd:
			for _, arg := range call.Args() {
				if !walk(arg) {
					return false
				}
			}
			return true
		case operators.NotEquals:
			lhs, rhs := call.Args()[0], call.Args()[1]
			if lhs.Kind() != celast.SelectKind || rhs.Kind() != celast.LiteralKind {
				return false
			}
			sel := lhs.AsSelect()
			if sel.Operand().Kind() != celast.IdentKind || sel.Operand().AsIdent() != "this" || !isZero(rhs) {
				return false
			}
			names = append(names, sel.FieldName())
			return true
		}
		return false
	}
	if !walk(parsed.NativeRep().Expr()) {
		return nil, nil
	}
	return names, nil
}

func isZero(lit celast.Expr) bool {
	switch v := lit.AsLiteral().(type) {
	case types.String:
		return v == ""
	case types.Int:
		return v == 0
	case types.Uint:
		return v == 0
	case types.Double:
		return v == 0
	case types.Bool:
		return !bool(v)
	}
	return false
}
