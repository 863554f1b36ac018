{{/* The release's full name: the release name alone when it already names the chart. */}}
{{- define "appmod-operator.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "appmod-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "appmod-operator.labels" -}}
{{ include "appmod-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "appmod-operator.serviceAccountName" -}}
{{- default (include "appmod-operator.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{/* repository[:tag][@digest], the tag defaulting to the chart's appVersion. */}}
{{- define "appmod-operator.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- .Values.image.repository }}:{{ $tag }}{{ if .Values.image.digest }}@{{ .Values.image.digest }}{{ end -}}
{{- end -}}

{{- define "appmod-operator.subjects" -}}
- kind: ServiceAccount
  name: {{ include "appmod-operator.serviceAccountName" . }}
  namespace: {{ .Release.Namespace }}
{{- end -}}
