{{/* Names, labels and the values every template shares. */}}

{{- define "jinqiao.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels of every object; component is the catalogued process (or "migrate"). Call with (dict "root" $ "name" …). */}}
{{- define "jinqiao.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: jinqiao
{{ include "jinqiao.selectorLabels" . }}
{{- end -}}

{{- define "jinqiao.selectorLabels" -}}
app.kubernetes.io/name: jinqiao
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{/* Every pod of this release (the default deny when it does not take the whole namespace). */}}
{{- define "jinqiao.releaseSelector" -}}
app.kubernetes.io/name: jinqiao
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The Kubernetes Service (and DNS name) of a process. */}}
{{- define "jinqiao.serviceName" -}}
{{- printf "%s-%s" (include "jinqiao.fullname" .root) .name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The name in JINQIAO_<NAME>_* variables (catalog.ServiceEntry.env_name). */}}
{{- define "jinqiao.envName" -}}
{{- . | upper | replace "-" "_" -}}
{{- end -}}

{{- define "jinqiao.tlsSecret" -}}
{{- if .root.Values.tls.secretPrefix -}}
{{- printf "%s-%s" .root.Values.tls.secretPrefix .name -}}
{{- else -}}
{{- printf "%s-tls" (include "jinqiao.serviceName" .) -}}
{{- end -}}
{{- end -}}

{{- define "jinqiao.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{- define "jinqiao.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.name | default (include "jinqiao.fullname" .) -}}
{{- else -}}
{{- .Values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}

{{/*
One process's setting: its own entry's value over the chart default, two levels deep (resources.requests.memory).
Not sprig's merge: it treats false as empty, so `autoscaling: {enabled: false}` would lose to the default's true.
Call with (dict "svc" … "root" $ "key" …).
*/}}
{{- define "jinqiao.setting" -}}
{{- $default := get .root.Values.defaults .key -}}
{{- if not (hasKey .svc .key) -}}
{{- $default | toYaml -}}
{{- else if and (kindIs "map" (get .svc .key)) (kindIs "map" $default) -}}
{{- $out := deepCopy $default -}}
{{- range $k, $v := get .svc .key -}}
{{- if and (kindIs "map" $v) (kindIs "map" (get $out $k)) -}}
{{- $inner := deepCopy (get $out $k) -}}
{{- range $k2, $v2 := $v }}{{ $_ := set $inner $k2 $v2 }}{{ end -}}
{{- $_ := set $out $k $inner -}}
{{- else -}}
{{- $_ := set $out $k $v -}}
{{- end -}}
{{- end -}}
{{- $out | toYaml -}}
{{- else -}}
{{- get .svc .key | toYaml -}}
{{- end -}}
{{- end -}}

{{/* The database password variable of a process (also what `jinqiao migrate` reads). */}}
{{- define "jinqiao.dbPasswordEnv" -}}
{{- printf "JINQIAO_%s_DB_PASSWORD" (include "jinqiao.envName" .) -}}
{{- end -}}
