// Package validate enforces the constraints declared in the contracts
// (protovalidate) on every incoming message, and is the one place that turns
// bad input into INVALID_ARGUMENT with google.rpc.BadRequest field
// violations, so gRPC and REST callers see the same details.
package validate

import (
	"context"
	"errors"
	"strings"

	"buf.build/go/protovalidate"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/kinbridge/kinbridge/pkg/names"
)

// Field is one violated constraint: the field's path in the request (proto
// names, dotted: "child.display_name") and what is wrong with it.
type Field struct {
	Path        string
	Description string
}

// InvalidArgument builds the INVALID_ARGUMENT error for the given violations.
// Application code uses it for rules the contract cannot express (a date
// that does not exist, an unknown time zone).
func InvalidArgument(fields ...Field) error {
	var msgs []string
	br := &errdetails.BadRequest{}
	for _, f := range fields {
		br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{
			Field:       f.Path,
			Description: f.Description,
		})
		msgs = append(msgs, f.Path+": "+f.Description)
	}
	st := status.New(codes.InvalidArgument, "invalid request: "+strings.Join(msgs, "; "))
	if withDetails, err := st.WithDetails(br); err == nil {
		st = withDetails
	}
	return st.Err()
}

// Name parses the resource name in field with parse (one of the
// names.Parse functions). A malformed name is INVALID_ARGUMENT with a field
// violation that says what the name must look like, without echoing it.
func Name[T any](field, name string, parse func(string) (T, error)) (T, error) {
	n, err := parse(name)
	if err != nil {
		desc := err.Error()
		if ne, ok := errors.AsType[*names.Error](err); ok {
			desc = ne.Description()
		}
		return n, InvalidArgument(Field{Path: field, Description: desc})
	}
	return n, nil
}

// Validator checks messages against their protovalidate constraints.
type Validator struct {
	v protovalidate.Validator
}

// New returns a Validator. Constraint programs are compiled lazily per
// message type and cached.
func New() (*Validator, error) {
	v, err := protovalidate.New()
	if err != nil {
		return nil, err
	}
	return &Validator{v: v}, nil
}

// Check validates msg, returning nil or an INVALID_ARGUMENT status error.
func (v *Validator) Check(msg any) error {
	m, ok := msg.(proto.Message)
	if !ok {
		return nil
	}
	err := v.v.Validate(m)
	if err == nil {
		return nil
	}
	var verr *protovalidate.ValidationError
	if !errors.As(err, &verr) {
		// A constraint that cannot be evaluated is our bug, not the caller's.
		return status.Errorf(codes.Internal, "validating %s: %v", m.ProtoReflect().Descriptor().FullName(), err)
	}
	fields := make([]Field, 0, len(verr.Violations))
	for _, viol := range verr.Violations {
		path := protovalidate.FieldPathString(viol.Proto.GetField())
		fields = append(fields, Field{
			Path:        requiredPath(path, viol.Proto.GetRuleId()),
			Description: viol.Proto.GetMessage(),
		})
	}
	return InvalidArgument(fields...)
}

// requiredPath is where a violation points. A message field's CEL rule
// may require one of its fields on create only (this.user not empty, which
// a field's own rules cannot say, as updates send the message too); its id
// then names that field, "guardianship.user.required", and the violation
// points at it rather than at the whole message, so that a caller, over
// gRPC or REST, learns which field to fill in.
func requiredPath(path, ruleID string) string {
	field, ok := strings.CutSuffix(ruleID, ".required")
	if !ok {
		return path
	}
	if name, ok := strings.CutPrefix(field, path+"."); !ok || name == "" || strings.Contains(name, ".") {
		return path
	}
	return field
}

// UnaryServerInterceptor rejects requests that violate their constraints
// before the handler runs.
func (v *Validator) UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if err := v.Check(req); err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// StreamServerInterceptor validates every message a client sends on a stream.
func (v *Validator) StreamServerInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		return handler(srv, &validatingStream{ServerStream: ss, v: v})
	}
}

type validatingStream struct {
	grpc.ServerStream
	v *Validator
}

func (s *validatingStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	return s.v.Check(m)
}
