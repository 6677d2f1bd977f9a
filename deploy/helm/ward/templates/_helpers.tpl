{{- define "ward.name" -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "ward.labels" -}}
app.kubernetes.io/name: ward
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}

{{- define "ward.selector" -}}
app.kubernetes.io/name: ward
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
