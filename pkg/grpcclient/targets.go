package grpcclient

import (
	"fmt"
	"net"
	"strings"

	"google.golang.org/grpc"
	// Registers gRPC's client-side health checking, which the service
	// config of a list of instances turns on (healthCheckConfig).
	_ "google.golang.org/grpc/health"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
)

// instancesScheme names the resolver of a list of instances; it is
// registered on each connection alone (grpc.WithResolvers), never globally.
const instancesScheme = "kinbridge-instances"

// instances turns target into what grpc.NewClient dials. A single address
// ("127.0.0.1:9101") is dialled as it is, with gRPC's default of one
// connection. A DNS name ("dns:///progress:9101", as the Helm chart's
// headless Services give) is resolved by gRPC to every address the name
// has, one per instance, and a comma-separated list of host:port
// ("10.77.0.11:9101,10.77.0.12:9101") becomes a fixed set of endpoints:
// both report balanced, and the caller's service config turns balancing
// over the instances and health checking on.
func instances(target string) (dial string, opts []grpc.DialOption, balanced bool, err error) {
	if !strings.Contains(target, ",") {
		return target, nil, strings.HasPrefix(target, "dns:"), nil
	}
	var endpoints []resolver.Endpoint
	seen := map[string]bool{}
	for entry := range strings.SplitSeq(target, ",") {
		addr := strings.TrimSpace(entry)
		host, port, err := net.SplitHostPort(addr)
		if err != nil || host == "" || port == "" {
			return "", nil, false, fmt.Errorf("grpcclient: %q in the list %q is not host:port", addr, target)
		}
		if seen[addr] {
			return "", nil, false, fmt.Errorf("grpcclient: %s is listed twice in %q", addr, target)
		}
		seen[addr] = true
		// TLS checks each instance by its own host, not by the list's.
		endpoints = append(endpoints, resolver.Endpoint{Addresses: []resolver.Address{{Addr: addr, ServerName: host}}})
	}
	// The manual resolver hands the list to the connection once, and again
	// whenever the connection leaves idleness and rebuilds its resolver.
	r := manual.NewBuilderWithScheme(instancesScheme)
	r.InitialState(resolver.State{Endpoints: endpoints})
	return instancesScheme + ":///" + strings.ReplaceAll(target, " ", ""), []grpc.DialOption{grpc.WithResolvers(r)}, true, nil
}

// balancing is the part of the service config of several instances:
// calls go round the instances whose connection is up and whose gRPC
// health service (the server's overall status, service name "") says
// SERVING. An instance that stopped, crashed or is draining (pkg/grpcserver
// turns NOT_SERVING as shutdown begins) is skipped until it serves again; a
// server without a health service counts as healthy.
func balancing(cfg map[string]any) {
	cfg["loadBalancingConfig"] = []any{map[string]any{"round_robin": map[string]any{}}}
	cfg["healthCheckConfig"] = map[string]any{"serviceName": ""}
}
