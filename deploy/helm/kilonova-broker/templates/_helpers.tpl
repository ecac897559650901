{{/*
Names, labels and per-actor values shared by the templates.
*/}}

{{- define "kb.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "kb.fullname" -}}
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

{{/* Name of one actor's resources: <fullname>-<actor>. */}}
{{- define "kb.actorFullname" -}}
{{- printf "%s-%s" (include "kb.fullname" .root) .name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "kb.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "kb.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: kilonova-broker
{{- end -}}

{{/* Selector labels of one actor (dict root, name). */}}
{{- define "kb.actorSelectorLabels" -}}
app.kubernetes.io/name: {{ include "kb.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{- define "kb.actorLabels" -}}
{{ include "kb.labels" .root }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{- define "kb.image" -}}
{{- $img := .Values.image -}}
{{- if $img.digest -}}
{{- printf "%s@%s" $img.repository $img.digest -}}
{{- else -}}
{{- printf "%s:%s" $img.repository (default .Chart.AppVersion $img.tag) -}}
{{- end -}}
{{- end -}}

{{- define "kb.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "kb.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
One actor's values: actorDefaults overridden by its entry (dict root, name, actor),
as YAML; callers parse it with fromYaml.
*/}}
{{- define "kb.actorValues" -}}
{{- $merged := mergeOverwrite (deepCopy .root.Values.actorDefaults) (deepCopy .actor) -}}
{{- if not (hasKey $merged "consumer") -}}
{{- $_ := set $merged "consumer" nil -}}
{{- end -}}
{{- toYaml $merged -}}
{{- end -}}

{{/* The autoscaler in use: keda, hpa or none. */}}
{{- define "kb.autoscalingMode" -}}
{{- $mode := .Values.autoscaling.mode -}}
{{- if eq $mode "auto" -}}
{{- if .Capabilities.APIVersions.Has "keda.sh/v1alpha1" -}}keda{{- else -}}hpa{{- end -}}
{{- else -}}
{{- $mode -}}
{{- end -}}
{{- end -}}

{{/* KB_GRACE_MS of one actor (dict root, values): its env over runtime. */}}
{{- define "kb.graceMs" -}}
{{- $env := merge (deepCopy (default dict .values.env)) (deepCopy .root.Values.runtime) -}}
{{- int (default "20000" (get $env "KB_GRACE_MS")) -}}
{{- end -}}

{{/* Name of the Secret of a group (dict root, group), "" when none is needed. */}}
{{- define "kb.secretName" -}}
{{- $v := index .root.Values .group -}}
{{- if $v.existingSecret -}}
{{- $v.existingSecret -}}
{{- else -}}
{{- printf "%s-%s" (include "kb.fullname" .root) .group -}}
{{- end -}}
{{- end -}}

{{/*
Environment variables of a workload's container (dict root, name, secrets, env).
*/}}
{{- define "kb.env" -}}
- name: KB_REPLICA_ID
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
{{- range $k, $v := .env }}
- name: {{ $k }}
  value: {{ $v | toString | quote }}
{{- end }}
{{- $root := .root }}
{{- range $group := .secrets }}
{{- $secret := include "kb.secretName" (dict "root" $root "group" $group) }}
{{- if eq $group "postgres" }}
{{- if and (not $root.Values.postgres.existingSecret) (not $root.Values.postgres.url) }}
{{- fail (printf "%s needs PostgreSQL: set postgres.existingSecret (recommended) or postgres.url" $.name) }}
{{- end }}
- name: KB_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $root.Values.postgres.secretKey }}
{{- else if eq $group "hopskotch" }}
{{- $h := $root.Values.hopskotch }}
{{- if not $h.brokers }}
{{- fail (printf "%s needs Hopskotch: set hopskotch.brokers" $.name) }}
{{- end }}
{{- if and (not $h.existingSecret) (or (not $h.username) (not $h.password)) }}
{{- fail (printf "%s needs Hopskotch credentials: set hopskotch.existingSecret (recommended) or hopskotch.username and hopskotch.password" $.name) }}
{{- end }}
- name: KB_KAFKA_BROKERS
  value: {{ $h.brokers | quote }}
- name: KB_KAFKA_SASL_MECHANISM
  value: {{ $h.saslMechanism | quote }}
- name: KB_KAFKA_SECURITY_PROTOCOL
  value: {{ $h.securityProtocol | quote }}
- name: KB_KAFKA_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $h.usernameKey }}
- name: KB_KAFKA_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $h.passwordKey }}
{{- if $h.caSecret }}
- name: KB_KAFKA_CA_FILE
  value: /etc/kb/hopskotch-ca/{{ $h.caKey }}
{{- end }}
{{- else if eq $group "keycloak" }}
{{- $k := $root.Values.keycloak }}
{{- if not $k.issuerUrl }}
{{- fail (printf "%s needs Keycloak: set keycloak.issuerUrl" $.name) }}
{{- end }}
{{- if and (not $k.existingSecret) (not $k.clientSecret) }}
{{- fail (printf "%s needs the Keycloak client secret: set keycloak.existingSecret (recommended) or keycloak.clientSecret" $.name) }}
{{- end }}
- name: KB_OIDC_ISSUER
  value: {{ $k.issuerUrl | quote }}
- name: KB_OIDC_CLIENT_ID
  value: {{ $k.clientId | quote }}
- name: KB_OIDC_CLIENT_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $k.clientSecretKey }}
{{- else }}
{{- fail (printf "%s: unknown secret group %q (use postgres, hopskotch or keycloak)" $.name $group) }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Volumes of a workload (dict root, secrets). */}}
{{- define "kb.volumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: 256Mi
{{- if and (has "hopskotch" .secrets) .root.Values.hopskotch.caSecret }}
- name: hopskotch-ca
  secret:
    secretName: {{ .root.Values.hopskotch.caSecret }}
    items:
      - key: {{ .root.Values.hopskotch.caKey }}
        path: {{ .root.Values.hopskotch.caKey }}
{{- end }}
{{- end -}}

{{- define "kb.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if and (has "hopskotch" .secrets) .root.Values.hopskotch.caSecret }}
- name: hopskotch-ca
  mountPath: /etc/kb/hopskotch-ca
  readOnly: true
{{- end }}
{{- end -}}
