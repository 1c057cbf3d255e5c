{{/*
The chart name, overridable with nameOverride.
*/}}
{{- define "activitybridge.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name of every resource: the release name, plus the chart name unless the release name holds it.
*/}}
{{- define "activitybridge.fullname" -}}
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
The chart label value.
*/}}
{{- define "activitybridge.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels on every resource.
*/}}
{{- define "activitybridge.labels" -}}
helm.sh/chart: {{ include "activitybridge.chart" . }}
{{ include "activitybridge.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Labels that select the pods; they never change after install.
*/}}
{{- define "activitybridge.selectorLabels" -}}
app.kubernetes.io/name: {{ include "activitybridge.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
The ServiceAccount the pod runs as.
*/}}
{{- define "activitybridge.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "activitybridge.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The image reference; the tag defaults to the chart's appVersion.
*/}}
{{- define "activitybridge.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/*
The Secret the pod reads its credentials from: the user's existingSecret or the chart's own.
*/}}
{{- define "activitybridge.secretName" -}}
{{- if .Values.existingSecret }}
{{- .Values.existingSecret }}
{{- else }}
{{- include "activitybridge.fullname" . }}
{{- end }}
{{- end }}

{{/*
A map name=url rendered as "name=url,name2=url" in a stable (sorted) order.
*/}}
{{- define "activitybridge.namedURLs" -}}
{{- $pairs := list }}
{{- range $name, $url := . }}
{{- $pairs = append $pairs (printf "%s=%s" $name $url) }}
{{- end }}
{{- join "," $pairs }}
{{- end }}

{{/*
The chart's Secret data as YAML, key -> plain value, holding only the keys that are set.
Both secret.yaml and the pod's checksum annotation use it.
*/}}
{{- define "activitybridge.secretData" -}}
{{- with .Values.secrets }}
{{- if .slackToken }}
slackToken: {{ .slackToken | quote }}
{{- end }}
{{- if .slackWebhooks }}
slackWebhooks: {{ include "activitybridge.namedURLs" .slackWebhooks | quote }}
{{- end }}
{{- if .discordWebhooks }}
discordWebhooks: {{ include "activitybridge.namedURLs" .discordWebhooks | quote }}
{{- end }}
{{- if .discordToken }}
discordToken: {{ .discordToken | quote }}
{{- end }}
{{- if .sharedKey }}
sharedKey: {{ .sharedKey | quote }}
{{- end }}
{{- if .pathToken }}
pathToken: {{ .pathToken | quote }}
{{- end }}
{{- end }}
{{- if .Values.database.url }}
databaseURL: {{ .Values.database.url | quote }}
{{- end }}
{{- end }}

{{/*
Secret key -> the environment variable that names its file (or holds it, with existingSecret).
*/}}
{{- define "activitybridge.secretEnv" -}}
slackToken: BRIDGE_SLACK_TOKEN
slackWebhooks: BRIDGE_SLACK_WEBHOOKS
discordWebhooks: BRIDGE_DISCORD_WEBHOOKS
discordToken: BRIDGE_DISCORD_TOKEN
sharedKey: BRIDGE_SHARED_KEY
pathToken: BRIDGE_PATH_TOKEN
databaseURL: BRIDGE_DATABASE_URL
{{- end }}

{{/*
Fail the render on values that cannot work together.
*/}}
{{- define "activitybridge.validate" -}}
{{- $db := .Values.database }}
{{- if and $db.url $db.existingSecret }}
{{- fail "database.url and database.existingSecret are both set; set only one" }}
{{- end }}
{{- if and $db.url .Values.existingSecret }}
{{- fail "database.url is set together with existingSecret, so the chart creates no Secret to hold it; put the URL into a Secret and set database.existingSecret and database.existingSecretKey" }}
{{- end }}
{{- if and $db.existingSecret (not $db.existingSecretKey) }}
{{- fail "database.existingSecret is set but database.existingSecretKey is empty; name the key that holds the URL (CloudNativePG: uri)" }}
{{- end }}
{{- if and (not (include "activitybridge.database" .)) (gt (int .Values.replicaCount) 1) }}
{{- fail (printf "replicaCount is %d but no database is set: the bolt store (persistence.enabled) has a single writer and the memory store keeps each pod's state apart, so run one replica (replicaCount: 1) or give the replicas a shared PostgreSQL database with database.url or database.existingSecret" (int .Values.replicaCount)) }}
{{- end }}
{{- if and .Values.routes (hasKey .Values.env "BRIDGE_ROUTES") }}
{{- fail "routes and env.BRIDGE_ROUTES are both set, and env.BRIDGE_ROUTES would silently replace routes: keep the rules in routes (one per item) and remove env.BRIDGE_ROUTES" }}
{{- end }}
{{- /* The token is a secret: the message never quotes it. */}}
{{- with .Values.secrets.slackToken }}
{{- if or (contains "..." .) (contains "…" .) (not (regexMatch "^xox[bp]-[0-9A-Za-z-]{6,}$" .)) }}
{{- fail "secrets.slackToken does not look like a Slack bot token (xoxb- then digits, letters and dashes; \"xoxb-...\" in the README is a placeholder): paste the Bot User OAuth Token of your Slack app, or leave slackToken empty if no route uses slack: targets" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
"true" when the pods share a PostgreSQL database (BRIDGE_STORE=postgres), else empty.
*/}}
{{- define "activitybridge.database" -}}
{{- if or .Values.database.url .Values.database.existingSecret }}true{{ end }}
{{- end }}
