package deploy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"path"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/v2/lint"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

const chartDir = "helm/kinbridge"

// TestHelmLint runs Helm's linter (what `helm lint --strict` runs) on the
// chart, with its default values and with the values that have the chart
// create the Secret.
func TestHelmLint(t *testing.T) {
	for name, values := range map[string]map[string]any{"defaults": {}, "secrets.create": createSecretValues(), "tls": tlsValues(true)} {
		t.Run(name, func(t *testing.T) {
			l := lint.RunAll(chartDir, values, "families")
			for _, m := range l.Messages {
				if m.Severity >= support.WarningSev {
					t.Errorf("helm lint: %s", m)
				} else {
					t.Logf("helm lint: %s", m)
				}
			}
		})
	}
}

func createSecretValues() map[string]any {
	return map[string]any{"secrets": map[string]any{
		"create": true, "existingSecret": "",
		"userKey": "-----BEGIN PRIVATE KEY-----\nuser\n-----END PRIVATE KEY-----\n", "serviceKey": "-----BEGIN PRIVATE KEY-----\nservice\n-----END PRIVATE KEY-----\n",
		"env": map[string]any{"KINBRIDGE_PROGRESS_DB": "postgres://kinbridge:pw@db/progress"},
	}}
}

// rendered is `helm template`'s output, decoded strictly into the
// Kubernetes API's types.
type rendered struct {
	deployments map[string]*appsv1.Deployment
	services    map[string]*corev1.Service
	pdbs        map[string]*policyv1.PodDisruptionBudget
	hpas        map[string]*autoscalingv2.HorizontalPodAutoscaler
	configMaps  map[string]*corev1.ConfigMap
	secrets     map[string]*corev1.Secret
}

// renderChart renders the chart as `helm template demo helm/kinbridge`
// does and decodes every document into its kind's type, refusing unknown,
// duplicate or miscased fields as the API server's strict field validation
// does (sigs.k8s.io/json): a misspelt key in a template fails here instead
// of being dropped by the API server.
func renderChart(t *testing.T, values map[string]any) rendered {
	t.Helper()
	chrt, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	vals, err := util.ToRenderValues(chrt, values, common.ReleaseOptions{Name: "demo", Namespace: "families", IsInstall: true, Revision: 1}, common.DefaultCapabilities)
	if err != nil {
		t.Fatal(err)
	}
	files, err := engine.Render(chrt, vals)
	if err != nil {
		t.Fatalf("helm template: %v", err)
	}
	r := rendered{map[string]*appsv1.Deployment{}, map[string]*corev1.Service{}, map[string]*policyv1.PodDisruptionBudget{},
		map[string]*autoscalingv2.HorizontalPodAutoscaler{}, map[string]*corev1.ConfigMap{}, map[string]*corev1.Secret{}}
	for file, text := range files {
		if path.Ext(file) != ".yaml" {
			continue // NOTES.txt, _helpers.tpl
		}
		reader := k8syaml.NewYAMLReader(bufio.NewReader(strings.NewReader(text)))
		for {
			doc, err := reader.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			if len(bytes.TrimSpace(stripComments(doc))) == 0 {
				continue
			}
			var head struct{ APIVersion, Kind string }
			if err := yaml.Unmarshal(doc, &head); err != nil {
				t.Fatalf("%s: %v\n%s", file, err, doc)
			}
			var name string
			decode := func(apiVersion string, obj interface{ GetName() string }) {
				if head.APIVersion != apiVersion {
					t.Errorf("%s: %s is %s, want %s", file, head.Kind, head.APIVersion, apiVersion)
				}
				// As the API server decodes: duplicate keys, unknown fields and
				// fields in the wrong case are errors (encoding/json would
				// take "readonly" for "readOnly").
				js, err := yaml.YAMLToJSONStrict(doc)
				if err == nil {
					var strict []error
					if strict, err = kjson.UnmarshalStrict(js, obj); err == nil && len(strict) > 0 {
						err = errors.Join(strict...)
					}
				}
				if err != nil {
					t.Fatalf("%s: a %s that the Kubernetes API would not take as written: %v\n%s", file, head.Kind, err, doc)
				}
				name = obj.GetName()
			}
			switch head.Kind {
			case "Deployment":
				o := &appsv1.Deployment{}
				decode("apps/v1", o)
				r.deployments[name] = o
			case "Service":
				o := &corev1.Service{}
				decode("v1", o)
				r.services[name] = o
			case "PodDisruptionBudget":
				o := &policyv1.PodDisruptionBudget{}
				decode("policy/v1", o)
				r.pdbs[name] = o
			case "HorizontalPodAutoscaler":
				o := &autoscalingv2.HorizontalPodAutoscaler{}
				decode("autoscaling/v2", o)
				r.hpas[name] = o
			case "ConfigMap":
				o := &corev1.ConfigMap{}
				decode("v1", o)
				r.configMaps[name] = o
			case "Secret":
				o := &corev1.Secret{}
				decode("v1", o)
				r.secrets[name] = o
			default:
				t.Fatalf("%s: a %s, which this test does not know: decode it too", file, head.Kind)
			}
		}
	}
	return r
}

func stripComments(doc []byte) []byte {
	var out bytes.Buffer
	for line := range bytes.Lines(doc) {
		if !bytes.HasPrefix(bytes.TrimSpace(line), []byte("#")) {
			out.Write(line)
		}
	}
	return out.Bytes()
}

// TestHelmTemplate checks the rendered chart: a Deployment per role
// running `serve ROLE` as the image's user on a read-only root, probes on
// /healthz and /readyz (gateway) and gRPC health (services), resources,
// a PodDisruptionBudget and an autoscaler per role, every Service
// selecting its pods, the keys and backend URLs only by reference to a
// Secret, and every KINBRIDGE_* variable a flag the binary reads.
func TestHelmTemplate(t *testing.T) {
	r := renderChart(t, nil)
	if len(r.secrets) != 0 {
		t.Errorf("the default values render Secrets %v: keys belong in a Secret of the operator's (secrets.existingSecret)", keysOf(r.secrets))
	}
	flags := serverFlags(t)
	cm := r.configMaps["demo-kinbridge"]
	if cm == nil {
		t.Fatalf("no ConfigMap demo-kinbridge (have %v)", keysOf(r.configMaps))
	}
	for name, v := range cm.Data {
		checkEnvName(t, flags, "ConfigMap", name)
		if secretName.MatchString(name) && name != "KINBRIDGE_USER_KEY" && name != "KINBRIDGE_SERVICE_KEY" {
			t.Errorf("ConfigMap: %s=%q looks secret: it belongs in the Secret", name, v)
		}
	}
	if len(r.deployments) != len(roles) {
		t.Errorf("Deployments %v, want one per role %v", keysOf(r.deployments), roles)
	}
	for _, role := range roles {
		t.Run(role, func(t *testing.T) { checkRole(t, r, role, cm, flags) })
	}
}

func checkRole(t *testing.T, r rendered, role string, cm *corev1.ConfigMap, flags map[string]map[string]string) {
	name := "demo-kinbridge-" + role
	d := r.deployments[name]
	if d == nil {
		t.Fatalf("no Deployment %s", name)
	}
	pod := d.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	if !slices.Equal(c.Args, []string{"serve", role}) || len(c.Command) != 0 {
		t.Errorf("runs %q %q; want the image's entrypoint with [serve %s]", c.Command, c.Args, role)
	}
	psc, sc := pod.SecurityContext, c.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser != UID {
		t.Errorf("pod security context %+v: want runAsNonRoot as %d", psc, UID)
	}
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("container security context %+v: want a read-only root and no privilege escalation", sc)
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("resources %+v: want CPU and memory requests and a memory limit", c.Resources)
	}

	port := 8080
	if role != "gateway" {
		port = roleDefaultPort(t, role)
	}
	var containerPorts []int32
	for _, p := range c.Ports {
		containerPorts = append(containerPorts, p.ContainerPort)
	}
	if !slices.Contains(containerPorts, int32(port)) || !slices.Contains(containerPorts, 9464) {
		t.Errorf("container ports %v, want %d and the metrics port 9464", containerPorts, port)
	}
	if listen := cm.Data[EnvName(role+"-listen")]; listen != "0.0.0.0:"+itoa(port) {
		t.Errorf("%s = %q, want 0.0.0.0:%d", EnvName(role+"-listen"), listen, port)
	}
	for kind, p := range map[string]*corev1.Probe{"startup": c.StartupProbe, "liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
		if p == nil {
			t.Errorf("no %s probe", kind)
			continue
		}
		if role == "gateway" {
			want := map[string]string{"startup": "/healthz", "liveness": "/healthz", "readiness": "/readyz"}[kind]
			if p.HTTPGet == nil || p.HTTPGet.Path != want || p.HTTPGet.Port != intstr.FromString("http") {
				t.Errorf("%s probe %+v, want GET %s on the http port", kind, p.ProbeHandler, want)
			}
		} else {
			// Readiness asks the overall status, which follows the
			// database; the others ask kinbridge.liveness
			// (pkg/grpcserver.LivenessService), so an outage restarts nothing.
			want := map[string]string{"startup": "kinbridge.liveness", "liveness": "kinbridge.liveness", "readiness": ""}[kind]
			if p.GRPC == nil || p.GRPC.Port != int32(port) || p.GRPC.Service == nil && want != "" || p.GRPC.Service != nil && *p.GRPC.Service != want {
				t.Errorf("%s probe %+v, want gRPC health on %d for service %q", kind, p.ProbeHandler, port, want)
			}
		}
	}

	// Secrets: by reference only, from the Secret the values name.
	for _, e := range c.Env {
		checkEnvName(t, flags, "env", e.Name)
		if secretName.MatchString(e.Name) && (e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil) {
			t.Errorf("%s is not taken from a Secret (value %q)", e.Name, e.Value)
		}
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil && e.ValueFrom.SecretKeyRef.Name != "kinbridge" {
			t.Errorf("%s comes from Secret %s, want kinbridge (secrets.existingSecret)", e.Name, e.ValueFrom.SecretKeyRef.Name)
		}
		// A backend's URL may not be left out: the pod would run on a
		// database and a folder of its own, apart from its replicas.
		optional := e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil && e.ValueFrom.SecretKeyRef.Optional != nil && *e.ValueFrom.SecretKeyRef.Optional
		if backendURL.MatchString(e.Name) && optional {
			t.Errorf("%s is optional in the Secret; a pod without it would keep data of its own", e.Name)
		}
	}
	for _, name := range map[string][]string{
		"progress":     {"KINBRIDGE_PROGRESS_DB", "KINBRIDGE_REDIS_URL"},
		"media":        {"KINBRIDGE_MEDIA_DB", "KINBRIDGE_BLOB_URL", "KINBRIDGE_REDIS_URL"},
		"notification": {"KINBRIDGE_NOTIFICATION_DB", "KINBRIDGE_NATS_URL", "KINBRIDGE_REDIS_URL"},
		"gateway":      {"KINBRIDGE_REDIS_URL"},
	}[role] {
		if !slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == name }) {
			t.Errorf("%s reads no %s from the Secret", role, name)
		}
	}
	if role != "gateway" && !slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == EnvName(role+"-db") }) {
		t.Errorf("no %s from the Secret", EnvName(role+"-db"))
	}
	var keys *corev1.SecretVolumeSource
	for _, v := range pod.Volumes {
		if v.Secret != nil {
			keys = v.Secret
		}
	}
	if keys == nil || keys.SecretName != "kinbridge" || len(keys.Items) != 2 {
		t.Errorf("keys volume %+v, want user.pem and service.pem of Secret kinbridge", keys)
	}
	mounted := map[string]bool{}
	for _, m := range c.VolumeMounts {
		mounted[m.MountPath] = !m.ReadOnly
	}
	for _, file := range []string{cm.Data["KINBRIDGE_USER_KEY"], cm.Data["KINBRIDGE_SERVICE_KEY"]} {
		if _, ok := mounted[path.Dir(file)]; !ok || file == "" {
			t.Errorf("key file %q is in no mounted volume (%v)", file, mounted)
		}
	}
	if !mounted[DataDir] || !mounted["/tmp"] {
		t.Errorf("writable mounts %v: want %s and /tmp (the root is read-only)", mounted, DataDir)
	}

	labels := d.Spec.Template.Labels
	svc := r.services[name]
	if svc == nil {
		t.Errorf("no Service %s", name)
	} else {
		if !selects(svc.Spec.Selector, labels) || !selects(d.Spec.Selector.MatchLabels, labels) {
			t.Errorf("Service selector %v / Deployment selector %v do not select the pods %v", svc.Spec.Selector, d.Spec.Selector.MatchLabels, labels)
		}
		if role != "gateway" && svc.Spec.ClusterIP != corev1.ClusterIPNone {
			t.Errorf("Service %s is not headless: gRPC callers could not balance across its pods", name)
		}
		if role != "gateway" && cm.Data[EnvName(role+"-addr")] != "dns:///"+name+":"+itoa(port) {
			t.Errorf("%s = %q, want dns:///%s:%d", EnvName(role+"-addr"), cm.Data[EnvName(role+"-addr")], name, port)
		}
	}
	pdb := r.pdbs[name]
	if pdb == nil || pdb.Spec.Selector == nil || !selects(pdb.Spec.Selector.MatchLabels, labels) || pdb.Spec.MinAvailable == nil {
		t.Errorf("PodDisruptionBudget %s missing or not selecting the pods: %+v", name, pdb)
	}
	hpa := r.hpas[name]
	if hpa == nil || hpa.Spec.ScaleTargetRef.Kind != "Deployment" || hpa.Spec.ScaleTargetRef.Name != name {
		t.Errorf("HorizontalPodAutoscaler %s missing or scaling something else: %+v", name, hpa)
	} else if hpa.Spec.MinReplicas == nil || *hpa.Spec.MinReplicas < 2 || pdb != nil && pdb.Spec.MinAvailable.IntValue() >= int(*hpa.Spec.MinReplicas) {
		t.Errorf("autoscaler minReplicas %v with PDB minAvailable %v: a drain could never evict a pod", hpa.Spec.MinReplicas, pdb.Spec.MinAvailable)
	}
	if d.Spec.Replicas != nil {
		t.Errorf("the Deployment sets replicas (%d) and has an autoscaler: every upgrade would reset the scale", *d.Spec.Replicas)
	}
}

func tlsValues(mutual bool) map[string]any {
	return map[string]any{"tls": map[string]any{"enabled": true, "secretName": "kinbridge-tls", "mutual": mutual}}
}

// TestHelmTemplateTLS renders the chart with tls.enabled (with and
// without tls.mutual): every role mounts the TLS Secret and serves with
// --tls-* flags naming its files; the services' probes are exec probes
// running a `kinbridge health` the binary takes, over TLS, checking the
// certificate for the name the other roles call them by; the gateway's
// probes ask over HTTPS.
func TestHelmTemplateTLS(t *testing.T) {
	flags := serverFlags(t)
	for _, mutual := range []bool{false, true} {
		t.Run("mutual="+strconv.FormatBool(mutual), func(t *testing.T) {
			r := renderChart(t, tlsValues(mutual))
			cm := r.configMaps["demo-kinbridge"]
			for _, role := range roles {
				t.Run(role, func(t *testing.T) { checkRoleTLS(t, r, role, cm, flags[role], mutual) })
			}
		})
	}
}

func checkRoleTLS(t *testing.T, r rendered, role string, cm *corev1.ConfigMap, flags map[string]string, mutual bool) {
	name := "demo-kinbridge-" + role
	d := r.deployments[name]
	if d == nil {
		t.Fatalf("no Deployment %s", name)
	}
	pod := d.Spec.Template.Spec
	c := pod.Containers[0]

	// The Secret's files, mounted read-only.
	const dir = "/etc/kinbridge/tls"
	files := map[string]bool{}
	for _, v := range pod.Volumes {
		if v.Name == "tls" && v.Secret != nil && v.Secret.SecretName == "kinbridge-tls" {
			for _, item := range v.Secret.Items {
				files[path.Join(dir, item.Path)] = true
			}
		}
	}
	if !slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.Name == "tls" && m.MountPath == dir && m.ReadOnly }) {
		t.Errorf("mounts %+v: want the tls volume read-only at %s", c.VolumeMounts, dir)
	}
	cert, key, ca := dir+"/tls.crt", dir+"/tls.key", dir+"/ca.crt"
	for _, f := range []string{cert, key, ca} {
		if !files[f] {
			t.Errorf("%s is not in the tls volume (Secret kinbridge-tls): %v", f, files)
		}
	}

	// serve ROLE with the TLS flags, each one the role reads.
	want := []string{"serve", role, "--tls-cert", cert, "--tls-key", key, "--tls-ca", ca}
	if mutual && role != "gateway" {
		want = append(want, "--tls-client-ca", ca)
	}
	if !slices.Equal(c.Args, want) {
		t.Errorf("args %q, want %q", c.Args, want)
	}
	for _, a := range c.Args[2:] {
		if f, ok := strings.CutPrefix(a, "--"); ok {
			if _, read := flags[f]; !read {
				t.Errorf("--%s is no flag of kinbridge serve %s", f, role)
			}
		}
	}
	if d.Spec.Template.Annotations["prometheus.io/scheme"] != "https" {
		t.Errorf("annotations %v: the metrics are served over https", d.Spec.Template.Annotations)
	}

	for kind, p := range map[string]*corev1.Probe{"startup": c.StartupProbe, "liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
		if p == nil {
			t.Errorf("no %s probe", kind)
			continue
		}
		if role == "gateway" {
			path := map[string]string{"startup": "/healthz", "liveness": "/healthz", "readiness": "/readyz"}[kind]
			if p.HTTPGet == nil || p.HTTPGet.Path != path || p.HTTPGet.Scheme != corev1.URISchemeHTTPS || p.HTTPGet.Port != intstr.FromString("http") {
				t.Errorf("%s probe %+v, want GET %s over HTTPS on the http port", kind, p.ProbeHandler, path)
			}
			continue
		}
		if p.Exec == nil || p.GRPC != nil || len(p.Exec.Command) < 2 || p.Exec.Command[0] != Binary {
			t.Errorf("%s probe %+v, want an exec of %s health", kind, p.ProbeHandler, Binary)
			continue
		}
		where := kind + " probe"
		got := parseHealth(t, where, p.Exec.Command[1:])
		service := map[string]string{"startup": "kinbridge.liveness", "liveness": "kinbridge.liveness", "readiness": ""}[kind]
		// The name callers check the certificate for: the host of
		// KINBRIDGE_ROLE_ADDR (dns:///NAME:PORT).
		callers := strings.TrimPrefix(cm.Data[EnvName(role+"-addr")], "dns:///")
		callers = callers[:strings.LastIndex(callers, ":")]
		if got["addr"] != "127.0.0.1:"+itoa(roleDefaultPort(t, role)) || got["service"] != service || got["url"] != "" {
			t.Errorf("%s asks %q service %q, want service %q on the pod's port %d", where, got["addr"], got["service"], service, roleDefaultPort(t, role))
		}
		if got["tls-ca"] != ca || got["tls-server-name"] != callers || got["tls-server-name"] != name {
			t.Errorf("%s: --tls-ca %q --tls-server-name %q, want %s and %s", where, got["tls-ca"], got["tls-server-name"], ca, callers)
		}
		if mutual != (got["tls-cert"] == cert && got["tls-key"] == key) || !mutual && (got["tls-cert"] != "" || got["tls-key"] != "") {
			t.Errorf("%s: --tls-cert %q --tls-key %q with mutual=%v", where, got["tls-cert"], got["tls-key"], mutual)
		}
		if d, err := time.ParseDuration(got["timeout"]); err != nil || p.TimeoutSeconds == 0 || d >= time.Duration(p.TimeoutSeconds)*time.Second {
			t.Errorf("%s: --timeout %q, timeoutSeconds %d: want the probe to give up first", where, got["timeout"], p.TimeoutSeconds)
		}
	}
}

// TestHelmTemplateCreatesSecret renders the chart with secrets.create:
// the Secret holds the keys and is the one the pods refer to.
func TestHelmTemplateCreatesSecret(t *testing.T) {
	r := renderChart(t, createSecretValues())
	s := r.secrets["demo-kinbridge"]
	if s == nil {
		t.Fatalf("no Secret demo-kinbridge (have %v)", keysOf(r.secrets))
	}
	for _, k := range []string{"user.pem", "service.pem", "KINBRIDGE_PROGRESS_DB"} {
		if s.StringData[k] == "" {
			t.Errorf("the Secret lacks %s", k)
		}
	}
	for name, d := range r.deployments {
		for _, v := range d.Spec.Template.Spec.Volumes {
			if v.Secret != nil && v.Secret.SecretName != "demo-kinbridge" {
				t.Errorf("%s mounts Secret %s, want demo-kinbridge", name, v.Secret.SecretName)
			}
		}
	}
}

// checkEnvName fails unless a KINBRIDGE_* variable is a flag some role
// of `kinbridge serve` reads.
func checkEnvName(t *testing.T, flags map[string]map[string]string, where, name string) {
	t.Helper()
	for _, role := range roles {
		for f := range flags[role] {
			if EnvName(f) == name {
				return
			}
		}
	}
	if strings.HasPrefix(name, "KINBRIDGE_") {
		t.Errorf("%s: %s is no flag of kinbridge serve", where, name)
	}
}

func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func keysOf[V any](m map[string]V) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func itoa(i int) string { return strconv.Itoa(i) }
