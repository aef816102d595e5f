package ratelimit

import (
	"context"

	"google.golang.org/grpc"

	"github.com/kinbridge/kinbridge/pkg/auth"
)

// UnaryServerInterceptor limits unary calls by who makes them: a user by
// user id, a service by its identity (with its own, larger budget). It runs
// after authentication; calls without a principal (health checks,
// reflection: the open methods) are not limited.
func UnaryServerInterceptor(l *Limiter) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if err := l.allowCaller(ctx); err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// StreamServerInterceptor is [UnaryServerInterceptor] for streams: a
// stream costs one request when it opens, whatever it carries.
func StreamServerInterceptor(l *Limiter) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if err := l.allowCaller(ss.Context()); err != nil {
			return err
		}
		return handler(srv, ss)
	}
}

func (l *Limiter) allowCaller(ctx context.Context) error {
	p, ok := auth.FromContext(ctx)
	switch {
	case !ok:
		return nil
	case p.IsService():
		return l.Allow(ctx, Service, p.Service)
	default:
		return l.Allow(ctx, User, p.Subject)
	}
}
