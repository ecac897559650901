{{- /*
NATS identities (deploy/nats, docs/security.md). With nats.auth.enabled an actor
connects as its identity (natsIdentity, else its name) and mounts only that
identity's seed from nats.auth.existingSecret; nats.caSecret adds the CA of the
server's TLS.
*/}}

{{/* The NATS identity of an actor: .values.natsIdentity, else .name. */}}
{{- define "kb.natsIdentity" -}}
{{- default .name .values.natsIdentity -}}
{{- end -}}

{{/* Extra KB_NATS_* variables (a dict as YAML) of an actor. */}}
{{- define "kb.natsEnv" -}}
{{- $n := .root.Values.nats -}}
{{- $env := dict -}}
{{- if $n.auth.enabled -}}
{{- if not $n.auth.existingSecret -}}
{{- fail "nats.auth.enabled needs nats.auth.existingSecret: the Secret with one <identity>.nk seed per identity (deno task nats-auth keys)" -}}
{{- end -}}
{{- $id := include "kb.natsIdentity" . -}}
{{- $_ := set $env "KB_NATS_IDENTITY" $id -}}
{{- $_ := set $env "KB_NATS_NKEY_FILE" (printf "/etc/kb/nats-identity/%s.nk" $id) -}}
{{- end -}}
{{- if $n.caSecret -}}
{{- $_ := set $env "KB_NATS_CA_FILE" (printf "/etc/kb/nats-ca/%s" $n.caKey) -}}
{{- end -}}
{{- toYaml $env -}}
{{- end -}}

{{- define "kb.natsVolumes" -}}
{{- $n := .root.Values.nats -}}
{{- if $n.auth.enabled }}
- name: nats-identity
  secret:
    secretName: {{ $n.auth.existingSecret }}
    # Group-readable: the pod runs as a non-root user whose fsGroup owns the files.
    defaultMode: 0440
    items:
      - key: {{ include "kb.natsIdentity" . }}.nk
        path: {{ include "kb.natsIdentity" . }}.nk
{{- end }}
{{- if $n.caSecret }}
- name: nats-ca
  secret:
    secretName: {{ $n.caSecret }}
    items:
      - key: {{ $n.caKey }}
        path: {{ $n.caKey }}
{{- end }}
{{- end -}}

{{- define "kb.natsVolumeMounts" -}}
{{- $n := .root.Values.nats -}}
{{- if $n.auth.enabled }}
- name: nats-identity
  mountPath: /etc/kb/nats-identity
  readOnly: true
{{- end }}
{{- if $n.caSecret }}
- name: nats-ca
  mountPath: /etc/kb/nats-ca
  readOnly: true
{{- end }}
{{- end -}}

{{/* A list of strings in nats-server configuration syntax: ["a", "b"]. */}}
{{- define "kb.natsList" -}}
[{{ range $i, $s := . }}{{ if $i }}, {{ end }}{{ $s | quote }}{{ end }}]
{{- end -}}
