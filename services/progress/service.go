// Package progress is the progress service: children, who may follow them,
// and (as the service grows) what is recorded about their school life.
//
// server.go translates between the contract and the domain, access.go
// decides who may do what, and store/ keeps the state.
package progress

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"

	progresspeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/peer/v1"
	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
	"github.com/kinbridge/kinbridge/pkg/sqldb"
	"github.com/kinbridge/kinbridge/services/progress/store"
)

// Config is what the service needs to run.
type Config struct {
	// DSN of the service's own database: "sqlite:PATH" or "postgres://...".
	DSN            string
	TracerProvider trace.TracerProvider
}

// summaryCacheSize bounds the summaries kept in memory.
const summaryCacheSize = 10000

// Service is a running progress service, ready to register on a gRPC server.
type Service struct {
	db     *sqldb.DB
	server *server
	access *accessServer
}

// New opens (and migrates) the service's database.
func New(ctx context.Context, cfg Config) (*Service, error) {
	db, err := sqldb.Open(ctx, cfg.DSN, sqldb.Options{Migrations: store.Migrations(), TracerProvider: cfg.TracerProvider})
	if err != nil {
		return nil, fmt.Errorf("progress database: %w", err)
	}
	st := store.NewSQL(db)
	return &Service{db: db, server: &server{store: st, summaries: newSummaryCache(summaryCacheSize)}, access: &accessServer{store: st}}, nil
}

// Register adds the public and the service-only APIs to s.
func (s *Service) Register(r grpc.ServiceRegistrar) {
	progressv1.RegisterProgressServiceServer(r, s.server)
	progresspeerv1.RegisterAccessServiceServer(r, s.access)
}

// Close releases the database.
func (s *Service) Close() error { return s.db.Close() }
