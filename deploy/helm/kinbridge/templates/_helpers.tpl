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
