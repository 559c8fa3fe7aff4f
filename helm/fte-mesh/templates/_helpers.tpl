{{/*
The service names `fte service NAME` accepts.
*/}}
{{- define "fte-mesh.knownServices" -}}
ingress-gmail ingress-whatsapp ingress-web identity agent dispatcher metrics
{{- end }}

{{/*
Fail on a key under .Values.services that `fte service` would not accept.
Usage: {{ include "fte-mesh.validateService" (list $ $name) }}
*/}}
{{- define "fte-mesh.validateService" -}}
{{- $root := index . 0 -}}
{{- $name := index . 1 -}}
{{- $known := splitList " " (include "fte-mesh.knownServices" $root) -}}
{{- if not (has $name $known) -}}
{{- fail (printf "services.%s: unknown service; choose among %s" $name (join ", " $known)) -}}
{{- end -}}
{{- end }}

{{/*
Chart name.
*/}}
{{- define "fte-mesh.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name, at most 63 characters.
*/}}
{{- define "fte-mesh.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Name of one service's objects (Deployment, Service, HPA, PDB).
Usage: {{ include "fte-mesh.componentName" (list $ $name) }}
*/}}
{{- define "fte-mesh.componentName" -}}
{{- $root := index . 0 -}}
{{- $name := index . 1 -}}
{{- printf "%s-%s" (include "fte-mesh.fullname" $root) $name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "fte-mesh.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels common to every object.
*/}}
{{- define "fte-mesh.labels" -}}
helm.sh/chart: {{ include "fte-mesh.chart" . }}
{{ include "fte-mesh.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: fte-mesh
{{- end }}

{{- define "fte-mesh.selectorLabels" -}}
app.kubernetes.io/name: {{ include "fte-mesh.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Labels of one service's objects. Usage: {{ include "fte-mesh.componentLabels" (list $ $name) }}
*/}}
{{- define "fte-mesh.componentLabels" -}}
{{- $root := index . 0 -}}
{{- $name := index . 1 -}}
{{ include "fte-mesh.labels" $root }}
app.kubernetes.io/component: {{ $name }}
{{- end }}

{{/*
Selector labels of one service. Usage: {{ include "fte-mesh.componentSelectorLabels" (list $ $name) }}
*/}}
{{- define "fte-mesh.componentSelectorLabels" -}}
{{- $root := index . 0 -}}
{{- $name := index . 1 -}}
{{ include "fte-mesh.selectorLabels" $root }}
app.kubernetes.io/component: {{ $name }}
{{- end }}

{{/*
The container image.
*/}}
{{- define "fte-mesh.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion | toString) }}
{{- end }}

{{/*
The ConfigMap holding the global env.
*/}}
{{- define "fte-mesh.configMapName" -}}
{{- printf "%s-env" (include "fte-mesh.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The Secret the chart reads (it never creates it).
*/}}
{{- define "fte-mesh.secretName" -}}
{{- required "secrets.existingSecret: name the Secret that holds DATABASE_URL and the other keys (see docs/deployment.md)" .Values.secrets.existingSecret }}
{{- end }}

{{/*
One env entry read from a Secret key. Usage: {{ include "fte-mesh.secretEnvVar" (list $ "DATABASE_URL" $entry) }}
*/}}
{{- define "fte-mesh.secretEnvVar" -}}
{{- $root := index . 0 -}}
{{- $var := index . 1 -}}
{{- $entry := index . 2 -}}
- name: {{ $var }}
  valueFrom:
    secretKeyRef:
      name: {{ $entry.secret | default (include "fte-mesh.secretName" $root) }}
      key: {{ $entry.key }}
      {{- if hasKey $entry "optional" }}
      optional: {{ $entry.optional }}
      {{- end }}
{{- end }}

{{/*
NATS_URL: from the Secret when nats.urlSecretKey is set, else the plain value.
Rendered as an env entry (used by the setup Job, which runs before the ConfigMap exists).
*/}}
{{- define "fte-mesh.natsUrlEnvVar" -}}
{{- if .Values.nats.urlSecretKey }}
- name: NATS_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "fte-mesh.secretName" . }}
      key: {{ .Values.nats.urlSecretKey }}
{{- else }}
- name: NATS_URL
  value: {{ required "nats.url is required" .Values.nats.url | quote }}
{{- end }}
{{- end }}

{{/*
Pod-level settings shared by the Deployments and the setup Job.
*/}}
{{- define "fte-mesh.podCommon" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- range . }}
  {{- if kindIs "string" . }}
  - name: {{ . }}
  {{- else }}
  - {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- end }}
{{- end }}
{{- with .Values.serviceAccount.name }}
serviceAccountName: {{ . }}
{{- end }}
automountServiceAccountToken: false
{{- with .Values.podSecurityContext }}
securityContext:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/*
Desired replicas of a service entry (1 when unset; 0 is kept).
*/}}
{{- define "fte-mesh.replicas" -}}
{{- if kindIs "invalid" .replicas }}1{{ else }}{{ .replicas | int }}{{ end }}
{{- end }}

{{/*
The fewest replicas a service runs: minReplicas under autoscaling, else replicas.
*/}}
{{- define "fte-mesh.minReplicas" -}}
{{- $autoscaling := .autoscaling | default dict }}
{{- if $autoscaling.enabled }}{{ $autoscaling.minReplicas | default 1 | int }}{{ else }}{{ include "fte-mesh.replicas" . }}{{ end }}
{{- end }}
