package verify

import (
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/releaseutil"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// The chart is rendered as release "bridge" in namespace "deploys" for a
// Kubernetes version inside the chart's kubeVersion range.
const (
	chartDir    = "../activitybridge"
	releaseName = "bridge"
	namespace   = "deploys"
	fullname    = "bridge-activitybridge"
	kubeVersion = "v1.31.0"
)

// Distinctive credentials: none of these strings (nor their base64 form) may
// appear anywhere but in the chart's Secret.
const (
	testSlackToken   = "xoxb-1111-2222-SlackTokenSecretValue"
	testSlackHook    = "https://hooks.slack.com/services/T000/B000/SlackHookSecretPart"
	testDiscordHook  = "https://discord.com/api/webhooks/123456/DiscordHookSecretPart"
	testDiscordToken = "DiscordBotTokenSecretValue.abc.def"
	testSharedKey    = "SharedKeySecretValue+/0123456789=="
	testPathToken    = "PathTokenSecretValue"
	testDatabaseURL  = "postgres://bridge:DatabasePasswordSecretValue@db.example.com:5432/bridge?sslmode=require"
)

// secretNeedles are the test credentials and the parts of the webhook URLs
// that are secret (the token after the last slash).
var secretNeedles = []string{
	testSlackToken, testSlackHook, "SlackHookSecretPart", testDiscordHook,
	"DiscordHookSecretPart", testDiscordToken, testSharedKey, testPathToken,
	testDatabaseURL, "DatabasePasswordSecretValue",
}

// Value sets. valuesDefault is the chart's values.yaml unchanged.
const (
	valuesDefault = ``

	valuesEverything = `
routes:
  - "abcdefgh1234567/main -> slack:#deploys, discord:prod"
  - "*/* results=failure continue -> slack-webhook:alerts"
secrets:
  slackToken: "` + testSlackToken + `"
  slackWebhooks:
    alerts: "` + testSlackHook + `"
    previews: "https://hooks.slack.com/services/T000/B001/SlackHookSecretPart"
  discordWebhooks:
    prod: "` + testDiscordHook + `"
  discordToken: "` + testDiscordToken + `"
  sharedKey: "` + testSharedKey + `"
  pathToken: "` + testPathToken + `"
templates:
  environment.push.tmpl: "{{ define \"title\" }}pushed {{ .Environment }}{{ end }}"
  compact--_fallback.tmpl: "{{ .Type }}"
env:
  BRIDGE_LOG_LEVEL: debug
  BRIDGE_MAX_AGE: 48h
  BRIDGE_LOG_FORMAT: console
ingress:
  enabled: true
  className: nginx
  annotations:
    cert-manager.io/cluster-issuer: letsencrypt
  hosts:
    - host: bridge.example.com
      paths:
        - path: /webhook
          pathType: Prefix
  tls:
    - secretName: bridge-tls
      hosts:
        - bridge.example.com
serviceMonitor:
  enabled: true
  labels:
    release: prometheus
podDisruptionBudget:
  enabled: true
networkPolicy:
  enabled: true
serviceAccount:
  create: true
podAnnotations:
  team: platform
nodeSelector:
  kubernetes.io/os: linux
tolerations:
  - key: dedicated
    operator: Equal
    value: tools
    effect: NoSchedule
affinity:
  nodeAffinity:
    preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 1
        preference:
          matchExpressions:
            - key: tier
              operator: In
              values: ["tools"]
`

	valuesExistingSecret = `
existingSecret: my-bridge-credentials
routes:
  - "*/* -> discord:prod"
`

	valuesNoPersistence = `
replicaCount: 1
routes:
  - "*/* -> slack:#deploys"
persistence:
  enabled: false
secrets:
  sharedKey: "` + testSharedKey + `"
`

	// valuesDatabase runs three replicas on PostgreSQL.
	valuesDatabase = `
replicaCount: 3
routes:
  - "*/* -> slack:#deploys"
database:
  url: "` + testDatabaseURL + `"
secrets:
  sharedKey: "` + testSharedKey + `"
`

	// valuesDatabaseSecret reads the URL from a CloudNativePG Secret.
	valuesDatabaseSecret = `
replicaCount: 2
database:
  existingSecret: bridge-db-app
`
)

// valueSets are the value sets every structural test runs over.
var valueSets = []struct {
	name   string
	values string
}{
	{"defaults", valuesDefault},
	{"everything", valuesEverything},
	{"existingSecret", valuesExistingSecret},
	{"persistenceOff", valuesNoPersistence},
	{"database", valuesDatabase},
	{"databaseSecret", valuesDatabaseSecret},
}

// manifest is one rendered document, decoded strictly into its API type.
type manifest struct {
	source string // the template file, e.g. activitybridge/templates/service.yaml
	kind   string
	name   string
	text   string
	obj    any
}

// rendered is a dry-run install: the manifests and NOTES.txt.
type rendered struct {
	manifests []manifest
	notes     string
}

// serviceMonitor is the part of the prometheus-operator ServiceMonitor
// (monitoring.coreos.com/v1) the chart renders; unknown fields fail decoding.
type serviceMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Selector          metav1.LabelSelector `json:"selector"`
		NamespaceSelector *struct {
			MatchNames []string `json:"matchNames,omitempty"`
		} `json:"namespaceSelector,omitempty"`
		Endpoints []struct {
			Port          string `json:"port"`
			Path          string `json:"path"`
			Interval      string `json:"interval,omitempty"`
			ScrapeTimeout string `json:"scrapeTimeout,omitempty"`
		} `json:"endpoints"`
	} `json:"spec"`
}

// kinds maps every kind the chart may render to its apiVersion and Go type.
var kinds = map[string]struct {
	apiVersion string
	newObj     func() any
}{
	"Deployment":            {"apps/v1", func() any { return &appsv1.Deployment{} }},
	"Service":               {"v1", func() any { return &corev1.Service{} }},
	"Secret":                {"v1", func() any { return &corev1.Secret{} }},
	"ConfigMap":             {"v1", func() any { return &corev1.ConfigMap{} }},
	"PersistentVolumeClaim": {"v1", func() any { return &corev1.PersistentVolumeClaim{} }},
	"ServiceAccount":        {"v1", func() any { return &corev1.ServiceAccount{} }},
	"Ingress":               {"networking.k8s.io/v1", func() any { return &networkingv1.Ingress{} }},
	"NetworkPolicy":         {"networking.k8s.io/v1", func() any { return &networkingv1.NetworkPolicy{} }},
	"PodDisruptionBudget":   {"policy/v1", func() any { return &policyv1.PodDisruptionBudget{} }},
	"ServiceMonitor":        {"monitoring.coreos.com/v1", func() any { return &serviceMonitor{} }},
}

var sourceLine = regexp.MustCompile(`(?m)^# Source: (\S+)`)

// render installs the chart with DryRun and ClientOnly, like `helm template`,
// and decodes every manifest strictly. A render error is returned; a manifest
// that does not decode fails the test.
func render(t *testing.T, values string) (*rendered, error) {
	t.Helper()
	return renderFor(t, values, kubeVersion)
}

func renderFor(t *testing.T, values, kube string) (*rendered, error) {
	t.Helper()
	chrt, err := loader.Load(chartDir)
	if err != nil {
		t.Fatalf("load chart: %v", err)
	}
	vals, err := chartutil.ReadValues([]byte(values))
	if err != nil {
		t.Fatalf("test values are not YAML: %v", err)
	}
	kv, err := chartutil.ParseKubeVersion(kube)
	if err != nil {
		t.Fatalf("parse kube version %q: %v", kube, err)
	}
	install := action.NewInstall(&action.Configuration{Log: func(string, ...any) {}})
	install.DryRun = true
	install.ClientOnly = true
	install.ReleaseName = releaseName
	install.Namespace = namespace
	install.KubeVersion = kv
	rel, err := install.Run(chrt, vals.AsMap())
	if err != nil {
		return nil, err
	}

	docs := releaseutil.SplitManifests(rel.Manifest)
	keys := make([]string, 0, len(docs))
	for k := range docs {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return manifestIndex(keys[i]) < manifestIndex(keys[j]) })

	out := &rendered{notes: rel.Info.Notes}
	for _, k := range keys {
		text := docs[k]
		m := manifest{text: text}
		if s := sourceLine.FindStringSubmatch(text); s != nil {
			m.source = s[1]
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(text), &tm); err != nil {
			t.Fatalf("%s: not YAML: %v\n%s", m.source, err, text)
		}
		kind, ok := kinds[tm.Kind]
		if !ok {
			t.Fatalf("%s: unexpected kind %q", m.source, tm.Kind)
		}
		if tm.APIVersion != kind.apiVersion {
			t.Errorf("%s: apiVersion %q, want %q", m.source, tm.APIVersion, kind.apiVersion)
		}
		m.kind = tm.Kind
		m.obj = kind.newObj()
		if err := yaml.UnmarshalStrict([]byte(text), m.obj); err != nil {
			t.Fatalf("%s: does not decode strictly into %s: %v\n%s", m.source, tm.Kind, err, text)
		}
		var meta struct {
			Metadata metav1.ObjectMeta `json:"metadata"`
		}
		if err := yaml.Unmarshal([]byte(text), &meta); err != nil {
			t.Fatalf("%s: metadata: %v", m.source, err)
		}
		m.name = meta.Metadata.Name
		if meta.Metadata.Namespace != namespace && tm.Kind != "" {
			t.Errorf("%s %s: namespace %q, want %q", m.kind, m.name, meta.Metadata.Namespace, namespace)
		}
		out.manifests = append(out.manifests, m)
	}
	return out, nil
}

// manifestIndex orders SplitManifests' keys ("manifest-10" after "manifest-9").
func manifestIndex(key string) int {
	n, _ := strconv.Atoi(strings.TrimPrefix(key, "manifest-"))
	return n
}

// mustRender renders values that must render.
func mustRender(t *testing.T, values string) *rendered {
	t.Helper()
	r, err := render(t, values)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	return r
}

// all returns the manifests of one kind.
func (r *rendered) all(kind string) []manifest {
	var out []manifest
	for _, m := range r.manifests {
		if m.kind == kind {
			out = append(out, m)
		}
	}
	return out
}

// one returns the only manifest of a kind, failing the test otherwise.
func (r *rendered) one(t *testing.T, kind string) manifest {
	t.Helper()
	got := r.all(kind)
	if len(got) != 1 {
		t.Fatalf("rendered %d %s, want 1", len(got), kind)
	}
	return got[0]
}

// kindList is the sorted list of "Kind/name" rendered.
func (r *rendered) kindList() []string {
	var out []string
	for _, m := range r.manifests {
		out = append(out, m.kind+"/"+m.name)
	}
	sort.Strings(out)
	return out
}

func (r *rendered) deployment(t *testing.T) *appsv1.Deployment {
	t.Helper()
	return r.one(t, "Deployment").obj.(*appsv1.Deployment)
}

// container returns the Deployment's only container.
func (r *rendered) container(t *testing.T) corev1.Container {
	t.Helper()
	d := r.deployment(t)
	if n := len(d.Spec.Template.Spec.Containers); n != 1 {
		t.Fatalf("deployment has %d containers, want 1", n)
	}
	return d.Spec.Template.Spec.Containers[0]
}

// envOf returns a container's environment by name; a duplicate name fails.
func envOf(t *testing.T, c corev1.Container) map[string]corev1.EnvVar {
	t.Helper()
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		if _, dup := env[e.Name]; dup {
			t.Errorf("env %s is set twice", e.Name)
		}
		env[e.Name] = e
	}
	return env
}

// plainEnv returns the container's literal env values by name.
func plainEnv(t *testing.T, c corev1.Container) map[string]string {
	t.Helper()
	out := map[string]string{}
	for name, e := range envOf(t, c) {
		if e.ValueFrom == nil {
			out[name] = e.Value
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
