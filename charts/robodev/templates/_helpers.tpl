{{/*
Names. Every name is a DNS label of at most 63 characters: a suffixed name cuts the prefix,
never the suffix, so two names cannot collapse into one.
*/}}

{{/* The chart name (app.kubernetes.io/name). */}}
{{- define "robodev.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The resource name prefix: RELEASE, or RELEASE-NAME when the release name lacks NAME. */}}
{{- define "robodev.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* FULLNAME-SUFFIX within 63 characters: (list . "suffix"). */}}
{{- define "robodev.suffixed" -}}
{{- $ctx := index . 0 -}}
{{- $suffix := index . 1 -}}
{{- $prefix := include "robodev.fullname" $ctx | trunc (int (sub 62 (len $suffix))) | trimSuffix "-" -}}
{{- printf "%s-%s" $prefix $suffix -}}
{{- end -}}

{{/* name-version, for the helm.sh/chart label. */}}
{{- define "robodev.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The labels of every object, without its component. */}}
{{- define "robodev.commonLabels" -}}
helm.sh/chart: {{ include "robodev.chart" . }}
app.kubernetes.io/name: {{ include "robodev.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: robodev
{{- end -}}

{{/* The labels of the controller's objects. */}}
{{- define "robodev.labels" -}}
{{ include "robodev.commonLabels" . }}
app.kubernetes.io/component: controller
{{- end -}}

{{/* The labels of the agents' objects (their ServiceAccount and NetworkPolicy). */}}
{{- define "robodev.agentLabels" -}}
{{ include "robodev.commonLabels" . }}
app.kubernetes.io/component: agent
{{- end -}}

{{/* The labels that select the controller pods (immutable in the Deployment's selector). */}}
{{- define "robodev.selectorLabels" -}}
app.kubernetes.io/name: {{ include "robodev.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end -}}

{{/* The label every agent Job and pod carries (set by robodev's Job builder, host/kube). */}}
{{- define "robodev.agentPodSelector" -}}
app: robodev-agent
{{- end -}}

{{/* The controller's ServiceAccount. */}}
{{- define "robodev.serviceAccountName" -}}
{{- default (include "robodev.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{/* The agent pods' ServiceAccount. */}}
{{- define "robodev.agentServiceAccountName" -}}
{{- default (include "robodev.suffixed" (list . "agent")) .Values.agent.serviceAccount.name -}}
{{- end -}}

{{/* Whether the admin API is on ("true" or ""). */}}
{{- define "robodev.adminEnabled" -}}
{{- if .Values.admin.tokenSecret -}}true{{- end -}}
{{- end -}}

{{/* The namespace of agent Jobs: config.executor.namespace, else the release namespace. */}}
{{- define "robodev.agentNamespace" -}}
{{- $executor := (.Values.config | default dict).executor | default dict -}}
{{- default .Release.Namespace $executor.namespace -}}
{{- end -}}

{{/* The controller image reference. */}}
{{- define "robodev.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/*
robodev-config.yaml as the controller reads it: .Values.config plus what the chart owns
(`admin:`, and the kubernetes executor's namespace and service account when unset; with that
executor, task runs kept as TaskRuns (`task_runs: { store: kubernetes }`) unless `task_runs`
is set, in the release namespace, where the Role lets robodev write them).
*/}}
{{- define "robodev.config" -}}
{{- $config := deepCopy (.Values.config | default dict) -}}
{{- if not $config -}}
{{- $config = include "robodev.starterConfig" . | fromYaml -}}
{{- end -}}
{{- if hasKey $config "admin" -}}
{{- fail "config.admin is set by the chart: set admin.tokenSecret (and admin.port, admin.bindAddress) instead" -}}
{{- end -}}
{{- if .Values.admin.tokenSecret -}}
{{- $bind := .Values.admin.bindAddress -}}
{{- if contains ":" $bind -}}{{- $bind = printf "[%s]" $bind -}}{{- end -}}
{{- $_ := set $config "admin" (dict "listen" (printf "%s:%d" $bind (int .Values.admin.port)) "allow_remote" true "token_secret" .Values.admin.tokenSecret) -}}
{{- end -}}
{{- $executor := get $config "executor" -}}
{{- if and (kindIs "map" $executor) (eq (toString $executor.kind) "kubernetes") -}}
{{- if not $executor.namespace -}}
{{- $_ := set $executor "namespace" .Release.Namespace -}}
{{- end -}}
{{- if not $executor.service_account -}}
{{- $_ := set $executor "service_account" (include "robodev.agentServiceAccountName" .) -}}
{{- end -}}
{{- if not (hasKey $config "task_runs") -}}
{{- $_ := set $config "task_runs" (dict "store" "kubernetes") -}}
{{- end -}}
{{- end -}}
{{- $taskRuns := get $config "task_runs" -}}
{{- if and (kindIs "map" $taskRuns) (eq (toString $taskRuns.store) "kubernetes") (not $taskRuns.namespace) -}}
{{- $_ := set $taskRuns "namespace" .Release.Namespace -}}
{{- end -}}
{{- toYaml $config -}}
{{- end -}}

{{/* The config used when .Values.config is empty: it runs and does nothing. */}}
{{- define "robodev.starterConfig" -}}
poll_interval: 30s
ticketing:
  backend: local
  config:
    file: tickets.yaml
secrets:
  backend: k8s
engines:
  default: local
  local:
    image: ""
    command: [agent]
    timeout_seconds: 3600
executor:
  kind: kubernetes
  ttl_after_finished: 1h
{{- end -}}

{{/* The ConfigMap's extra files: configFiles, plus the starter config's empty ticket file. */}}
{{- define "robodev.configFiles" -}}
{{- $files := deepCopy (.Values.configFiles | default dict) -}}
{{- if and (not .Values.config) (not (hasKey $files "tickets.yaml")) -}}
{{- $_ := set $files "tickets.yaml" "# Tickets of the built-in `local` ticketing backend (read again on every poll).\ntickets: []\n" -}}
{{- end -}}
{{- toYaml $files -}}
{{- end -}}

{{/* Whether more than one controller runs (leader election, PDB): "true" or "". */}}
{{- define "robodev.ha" -}}
{{- if gt (int .Values.replicas) 1 -}}true{{- end -}}
{{- end -}}
