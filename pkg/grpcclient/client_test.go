package grpcclient

import (
	"encoding/json"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"

	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
)

func TestServiceConfigRetriesOnlyIdempotentMethods(t *testing.T) {
	sd := progressv1.File_kinbridge_progress_v1_progress_proto.Services().ByName("ProgressService")
	var cfg struct {
		MethodConfig []struct {
			Name []struct{ Service, Method string }
		}
	}
	if err := json.Unmarshal([]byte(ServiceConfig([]protoreflect.ServiceDescriptor{sd}, false)), &cfg); err != nil {
		t.Fatal(err)
	}
	retried := map[string]bool{}
	for _, mc := range cfg.MethodConfig {
		for _, n := range mc.Name {
			retried[n.Method] = true
		}
	}
	for _, m := range []string{"GetChild", "ListChildren", "DeleteChild", "ListGuardianships"} {
		if !retried[m] {
			t.Errorf("%s should be retried", m)
		}
	}
	for _, m := range []string{"CreateChild", "UpdateChild", "CreateGuardianship"} {
		if retried[m] {
			t.Errorf("%s must not be retried", m)
		}
	}
}

func TestServiceConfigEmptyIsValidJSON(t *testing.T) {
	if got := ServiceConfig(nil, false); got != "{}" {
		t.Fatalf("got %s", got)
	}
}
