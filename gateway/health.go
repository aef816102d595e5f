package gateway

import (
	"context"
	"net/http"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// ready reports whether every upstream service answers its health check,
// so a load balancer only sends traffic to a gateway that can serve it.
func (g *Gateway) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	report := map[string]string{}
	code := http.StatusOK
	for _, u := range g.upstream {
		resp, err := healthpb.NewHealthClient(u.conn).Check(ctx, &healthpb.HealthCheckRequest{})
		switch {
		case err != nil:
			// The error stays in the log (upstream.go): this page is public.
			report[u.name] = "unreachable"
			code = http.StatusServiceUnavailable
		case resp.GetStatus() != healthpb.HealthCheckResponse_SERVING:
			report[u.name] = resp.GetStatus().String()
			code = http.StatusServiceUnavailable
		default:
			report[u.name] = "SERVING"
		}
	}
	writeJSON(w, code, report)
}
