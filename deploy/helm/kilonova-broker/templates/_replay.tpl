{{/* Pod template spec of the replay (Job and CronJob). */}}
{{- define "kb.replayPodSpec" -}}
{{- $r := .Values.replay -}}
{{- $env := merge (dict "KB_TRANSPORT" "nats" "KB_NATS_URL" .Values.nats.url "KB_STREAM_REPLICAS" (.Values.nats.streamReplicas | toString)) (deepCopy (default dict $r.env)) -}}
serviceAccountName: {{ include "kb.serviceAccountName" . }}
automountServiceAccountToken: false
restartPolicy: Never
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
containers:
  - name: replay
    image: {{ include "kb.image" . }}
    imagePullPolicy: {{ .Values.image.pullPolicy }}
    command:
      {{- toYaml $r.command | nindent 6 }}
    {{- with $r.args }}
    args:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    envFrom:
      - configMapRef:
          name: {{ include "kb.fullname" . }}-runtime
    env:
      {{- include "kb.env" (dict "root" . "name" "replay" "secrets" $r.secrets "env" $env) | nindent 6 }}
    resources:
      {{- toYaml $r.resources | nindent 6 }}
    securityContext:
      {{- toYaml .Values.securityContext | nindent 6 }}
    volumeMounts:
      {{- include "kb.volumeMounts" (dict "root" . "secrets" $r.secrets) | nindent 6 }}
volumes:
  {{- include "kb.volumes" (dict "root" . "secrets" $r.secrets) | nindent 2 }}
{{- end -}}
