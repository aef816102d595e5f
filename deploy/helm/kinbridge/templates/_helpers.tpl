{{/* The release's name for every object: RELEASE-kinbridge, or RELEASE when it already says kinbridge. */}}
{{- define "kinbridge.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "kinbridge.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selects one role's pods; call with (dict "root" $ "role" "progress"). */}}
{{- define "kinbridge.selectorLabels" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .role }}
{{- end -}}

{{- define "kinbridge.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "kinbridge.secretName" -}}
{{- if .Values.secrets.create -}}
{{- include "kinbridge.fullname" . -}}
{{- else -}}
{{- required "secrets.existingSecret names the Secret with the keys, or set secrets.create" .Values.secrets.existingSecret -}}
{{- end -}}
{{- end -}}

{{/* Where the callers reach a gRPC role: every pod of its headless Service, by DNS. */}}
{{- define "kinbridge.target" -}}
{{- printf "dns:///%s-%s:%v" (include "kinbridge.fullname" .root) .role (index .root.Values.roles .role).port -}}
{{- end -}}

{{/* Where a role's pods find the files of tls.secretName. */}}
{{- define "kinbridge.tlsDir" -}}/etc/kinbridge/tls{{- end -}}

{{/* The TLS flags of `serve ROLE`, as JSON list items after its args; call with (dict "root" $ "role" "progress"). */}}
{{- define "kinbridge.tlsArgs" -}}
{{- $t := .root.Values.tls -}}
{{- $dir := include "kinbridge.tlsDir" .root -}}
{{- $args := list "--tls-cert" (printf "%s/%s" $dir $t.certFile) "--tls-key" (printf "%s/%s" $dir $t.keyFile) "--tls-ca" (printf "%s/%s" $dir $t.caFile) -}}
{{- if and $t.mutual (ne .role "gateway") -}}
{{- $args = concat $args (list "--tls-client-ca" (printf "%s/%s" $dir $t.caFile)) -}}
{{- end -}}
{{- range $args }}, {{ . | quote }}{{ end -}}
{{- end -}}

{{/* The exec probe of a gRPC role over TLS: kinbridge health asks the health service .service of the pod's own port, checking the certificate for the role's Service name; call with (dict "root" $ "role" "progress" "service" "kinbridge.liveness"). */}}
{{- define "kinbridge.healthExec" -}}
{{- $t := .root.Values.tls -}}
{{- $dir := include "kinbridge.tlsDir" .root -}}
{{- $args := list "/kinbridge" "health" "--addr" (printf "127.0.0.1:%v" (index .root.Values.roles .role).port) "--service" .service "--timeout" "4s" "--tls-ca" (printf "%s/%s" $dir $t.caFile) "--tls-server-name" (printf "%s-%s" (include "kinbridge.fullname" .root) .role) -}}
{{- if $t.mutual -}}
{{- $args = concat $args (list "--tls-cert" (printf "%s/%s" $dir $t.certFile) "--tls-key" (printf "%s/%s" $dir $t.keyFile)) -}}
{{- end -}}
exec:
  command: [{{ range $i, $a := $args }}{{ if $i }}, {{ end }}{{ $a | quote }}{{ end }}]
timeoutSeconds: 5
{{- end -}}
