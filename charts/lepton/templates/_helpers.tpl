{{/* Names and labels shared by every template. */}}

{{- define "lepton.fullname" -}}
{{- if contains "lepton" .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-lepton" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "lepton.operatorName" -}}
{{- printf "%s-operator" (include "lepton.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "lepton.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "lepton.operatorName" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name: name an existing ServiceAccount when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "lepton.commonLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/part-of: lepton
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "lepton.labels" -}}
{{ include "lepton.commonLabels" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "lepton.selectorLabels" -}}
app.kubernetes.io/name: lepton-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "lepton.operatorLabels" -}}
{{ include "lepton.commonLabels" . }}
{{ include "lepton.selectorLabels" . }}
app.kubernetes.io/component: operator
{{- end -}}

{{- define "lepton.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "lepton.runnerTag" -}}
{{- default .Chart.AppVersion .Values.runner.image.tag -}}
{{- end -}}

{{/*
What the operator may do in the namespaces it watches. The same rules as
`lepton-operator rbac` prints (operator/src/rbac.rs); a test compares them.
*/}}
{{- define "lepton.operatorRules" -}}
- apiGroups: [lepton.ai]
  resources: [trainingjobs, tuningsweeps, modeldeployments]
  verbs: [get, list, watch]
- apiGroups: [lepton.ai]
  resources: [trainingjobs]
  verbs: [create, patch]
- apiGroups: [lepton.ai]
  resources: [trainingjobs/status, tuningsweeps/status, modeldeployments/status]
  verbs: [get, patch, update]
- apiGroups: [batch]
  resources: [jobs]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [""]
  resources: [services]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch]
- apiGroups: [autoscaling]
  resources: [horizontalpodautoscalers]
  verbs: [get, create, patch, delete]
- apiGroups: [""]
  resources: [serviceaccounts]
  verbs: [get, create, patch, delete]
- apiGroups: [rbac.authorization.k8s.io]
  resources: [roles, rolebindings]
  verbs: [get, create, patch, delete]
- apiGroups: [events.k8s.io]
  resources: [events]
  verbs: [create, patch]
{{- end -}}

{{/*
Checks the schema cannot express: references between values. Each message names the value
and says what to change.
*/}}
{{- define "lepton.validate" -}}
{{- $pools := list -}}
{{- range $i, $pool := .Values.config.nodePools -}}
{{- if has $pool.name $pools -}}
{{- fail (printf "config.nodePools[%d].name: %q is defined twice; give each pool its own name" $i $pool.name) -}}
{{- end -}}
{{- if and (hasKey $pool "pricePerNodeHour") (hasKey $pool "pricePerGpuHour") -}}
{{- fail (printf "config.nodePools[%d] (%s): set pricePerGpuHour or pricePerNodeHour, not both" $i $pool.name) -}}
{{- end -}}
{{- $pools = append $pools $pool.name -}}
{{- end -}}
{{- with .Values.config.defaultNodePool -}}
{{- if not (has . $pools) -}}
{{- fail (printf "config.defaultNodePool: %q is not one of config.nodePools (%s); name a defined pool or leave it empty" . (join ", " $pools)) -}}
{{- end -}}
{{- end -}}
{{- if and (gt (int .Values.replicaCount) 1) (not .Values.leaderElection.enabled) -}}
{{- fail (printf "leaderElection.enabled: must be true with replicaCount %d; two operators without a leader would fight over every object" (int .Values.replicaCount)) -}}
{{- end -}}
{{- if and .Values.podDisruptionBudget.enabled (ge (int .Values.podDisruptionBudget.minAvailable) (int .Values.replicaCount)) (gt (int .Values.replicaCount) 1) -}}
{{- fail (printf "podDisruptionBudget.minAvailable: %d with replicaCount %d would block every node drain; lower it or add replicas" (int .Values.podDisruptionBudget.minAvailable) (int .Values.replicaCount)) -}}
{{- end -}}
{{- end -}}
