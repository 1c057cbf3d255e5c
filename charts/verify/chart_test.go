package verify

import (
	"encoding/base64"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/lint/support"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
)

// TestLintStrict runs `helm lint --strict` (warnings are errors) with each value set.
func TestLintStrict(t *testing.T) {
	kv, err := chartutil.ParseKubeVersion(kubeVersion)
	if err != nil {
		t.Fatal(err)
	}
	for _, vs := range valueSets {
		t.Run(vs.name, func(t *testing.T) {
			vals, err := chartutil.ReadValues([]byte(vs.values))
			if err != nil {
				t.Fatal(err)
			}
			lint := action.NewLint()
			lint.Strict = true
			lint.Namespace = namespace
			lint.KubeVersion = kv
			res := lint.Run([]string{chartDir}, vals.AsMap())
			for _, m := range res.Messages {
				if m.Severity > support.InfoSev {
					t.Errorf("lint: %s", m)
				}
			}
			for _, err := range res.Errors {
				t.Errorf("lint error: %v", err)
			}
			if res.TotalChartsLinted != 1 {
				t.Errorf("linted %d charts, want 1", res.TotalChartsLinted)
			}
		})
	}
}

// TestRenderedKinds checks which objects each value set renders; render
// itself decodes every manifest strictly into its API type.
func TestRenderedKinds(t *testing.T) {
	tests := []struct {
		name   string
		values string
		want   []string
	}{
		{"defaults", valuesDefault, []string{
			"Deployment/" + fullname, "PersistentVolumeClaim/" + fullname, "Service/" + fullname,
		}},
		{"everything", valuesEverything, []string{
			"ConfigMap/" + fullname + "-templates", "Deployment/" + fullname, "Ingress/" + fullname,
			"NetworkPolicy/" + fullname, "PersistentVolumeClaim/" + fullname, "PodDisruptionBudget/" + fullname,
			"Secret/" + fullname, "Service/" + fullname, "ServiceAccount/" + fullname, "ServiceMonitor/" + fullname,
		}},
		{"existingSecret", valuesExistingSecret, []string{
			"Deployment/" + fullname, "PersistentVolumeClaim/" + fullname, "Service/" + fullname,
		}},
		{"persistenceOff", valuesNoPersistence, []string{
			"Deployment/" + fullname, "Secret/" + fullname, "Service/" + fullname,
		}},
		{"database", valuesDatabase, []string{
			"Deployment/" + fullname, "PodDisruptionBudget/" + fullname, "Secret/" + fullname, "Service/" + fullname,
		}},
		{"database from an existing Secret", valuesDatabaseSecret, []string{
			"Deployment/" + fullname, "PodDisruptionBudget/" + fullname, "Service/" + fullname,
		}},
		{"database, one replica: no PDB", "database:\n  url: postgres://db/bridge\n", []string{
			"Deployment/" + fullname, "Secret/" + fullname, "Service/" + fullname,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustRender(t, tt.values).kindList()
			if !slices.Equal(got, tt.want) {
				t.Errorf("rendered\n  %v\nwant\n  %v", got, tt.want)
			}
		})
	}
}

// TestKubeVersionRange: the chart refuses clusters older than 1.25.
func TestKubeVersionRange(t *testing.T) {
	tests := []struct {
		kube    string
		wantErr bool
	}{
		{"v1.24.9", true},
		{"v1.25.0", false},
		{"v1.31.0", false},
	}
	for _, tt := range tests {
		t.Run(tt.kube, func(t *testing.T) {
			_, err := renderFor(t, valuesDefault, tt.kube)
			if got := err != nil; got != tt.wantErr {
				t.Errorf("render for %s: err = %v, want error: %v", tt.kube, err, tt.wantErr)
			}
		})
	}
}

// TestRoutesReachEnv: the routes list becomes BRIDGE_ROUTES, one rule per line.
func TestRoutesReachEnv(t *testing.T) {
	tests := []struct {
		name   string
		values string
		want   string // "" means unset
	}{
		{"defaults", valuesDefault, ""},
		{"two rules", valuesEverything,
			"abcdefgh1234567/main -> slack:#deploys, discord:prod\n*/* results=failure continue -> slack-webhook:alerts"},
		{"one rule", valuesExistingSecret, "*/* -> discord:prod"},
		{"special characters", "routes:\n  - '*/pr-* events=environment.push -> slack:#a, slack-webhook:b'\n  - 'a\"b/\\\\x -> console'\n",
			"*/pr-* events=environment.push -> slack:#a, slack-webhook:b\na\"b/\\\\x -> console"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := plainEnv(t, mustRender(t, tt.values).container(t))
			got, ok := env["BRIDGE_ROUTES"]
			if tt.want == "" {
				if ok {
					t.Errorf("BRIDGE_ROUTES = %q, want unset", got)
				}
				return
			}
			if got != tt.want {
				t.Errorf("BRIDGE_ROUTES = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestEnv: the chart's own settings and the env map, which overrides them.
func TestEnv(t *testing.T) {
	tests := []struct {
		name   string
		values string
		want   map[string]string
	}{
		{"defaults", valuesDefault, map[string]string{
			"BRIDGE_LISTEN": ":8080", "BRIDGE_STORE": "bolt", "BRIDGE_DATA_DIR": "/data", "BRIDGE_LOG_FORMAT": "json",
		}},
		{"everything", valuesEverything, map[string]string{
			"BRIDGE_LISTEN": ":8080", "BRIDGE_STORE": "bolt", "BRIDGE_DATA_DIR": "/data",
			"BRIDGE_LOG_FORMAT": "console", "BRIDGE_LOG_LEVEL": "debug", "BRIDGE_MAX_AGE": "48h",
			"BRIDGE_TEMPLATES_DIR": "/etc/activitybridge/templates",
		}},
		{"persistence off", valuesNoPersistence, map[string]string{
			"BRIDGE_LISTEN": ":8080", "BRIDGE_STORE": "memory", "BRIDGE_DATA_DIR": "/data", "BRIDGE_LOG_FORMAT": "json",
		}},
		{"database", valuesDatabase, map[string]string{
			"BRIDGE_LISTEN": ":8080", "BRIDGE_STORE": "postgres", "BRIDGE_DATA_DIR": "/data", "BRIDGE_LOG_FORMAT": "json",
		}},
		{"numbers and booleans", "env:\n  BRIDGE_MAX_BODY: 1048576\n  DEBUG: true\n", map[string]string{
			"BRIDGE_LISTEN": ":8080", "BRIDGE_STORE": "bolt", "BRIDGE_DATA_DIR": "/data", "BRIDGE_LOG_FORMAT": "json",
			"BRIDGE_MAX_BODY": "1048576", "DEBUG": "true",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := plainEnv(t, mustRender(t, tt.values).container(t))
			delete(got, "BRIDGE_ROUTES")
			for name := range got {
				if strings.HasSuffix(name, "_FILE") {
					delete(got, name)
				}
			}
			if !slices.Equal(sortedKeys(got), sortedKeys(tt.want)) {
				t.Fatalf("env names %v, want %v", sortedKeys(got), sortedKeys(tt.want))
			}
			for name, want := range tt.want {
				if got[name] != want {
					t.Errorf("%s = %q, want %q", name, got[name], want)
				}
			}
		})
	}
}

// TestSecretsOnlyInSecret: credentials appear in the Secret and nowhere else
// (not in the Deployment, ConfigMap, any other manifest, nor NOTES.txt).
func TestSecretsOnlyInSecret(t *testing.T) {
	r := mustRender(t, valuesEverything)

	secret := r.one(t, "Secret").obj.(*corev1.Secret)
	wantData := map[string]string{
		"slackToken":      testSlackToken,
		"slackWebhooks":   "alerts=" + testSlackHook + ",previews=https://hooks.slack.com/services/T000/B001/SlackHookSecretPart",
		"discordWebhooks": "prod=" + testDiscordHook,
		"discordToken":    testDiscordToken,
		"sharedKey":       testSharedKey,
		"pathToken":       testPathToken,
	}
	if got := sortedKeys(secret.Data); !slices.Equal(got, sortedKeys(wantData)) {
		t.Errorf("secret keys %v, want %v", got, sortedKeys(wantData))
	}
	for k, want := range wantData {
		if got := string(secret.Data[k]); got != want {
			t.Errorf("secret %s = %q, want %q", k, got, want)
		}
	}

	var needles []string
	for _, s := range secretNeedles {
		needles = append(needles, s, base64.StdEncoding.EncodeToString([]byte(s)))
	}
	for _, m := range r.manifests {
		if m.kind == "Secret" {
			continue
		}
		for _, n := range needles {
			if strings.Contains(m.text, n) {
				t.Errorf("%s %s contains the secret value %q", m.kind, m.name, n)
			}
		}
	}
	for _, n := range needles {
		if strings.Contains(r.notes, n) {
			t.Errorf("NOTES.txt contains the secret value %q", n)
		}
	}
}

// TestSecretFiles: the pod reads each credential that is set from a file of
// the mounted Secret, and only those.
func TestSecretFiles(t *testing.T) {
	const dir = "/var/run/secrets/activitybridge/"
	tests := []struct {
		name   string
		values string
		want   map[string]string // env name -> file; the secret volume's items follow
	}{
		{"none", valuesDefault, map[string]string{}},
		{"shared key only", valuesNoPersistence, map[string]string{
			"BRIDGE_SHARED_KEY_FILE": dir + "sharedKey",
		}},
		{"all", valuesEverything, map[string]string{
			"BRIDGE_SLACK_TOKEN_FILE":      dir + "slackToken",
			"BRIDGE_SLACK_WEBHOOKS_FILE":   dir + "slackWebhooks",
			"BRIDGE_DISCORD_WEBHOOKS_FILE": dir + "discordWebhooks",
			"BRIDGE_DISCORD_TOKEN_FILE":    dir + "discordToken",
			"BRIDGE_SHARED_KEY_FILE":       dir + "sharedKey",
			"BRIDGE_PATH_TOKEN_FILE":       dir + "pathToken",
		}},
		{"database url", valuesDatabase, map[string]string{
			"BRIDGE_SHARED_KEY_FILE":   dir + "sharedKey",
			"BRIDGE_DATABASE_URL_FILE": dir + "databaseURL",
		}},
		{"empty maps and strings are unset", "secrets:\n  slackWebhooks: {}\n  slackToken: \"\"\n  pathToken: abc\n",
			map[string]string{"BRIDGE_PATH_TOKEN_FILE": dir + "pathToken"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustRender(t, tt.values)
			c := r.container(t)
			got := map[string]string{}
			for name, e := range envOf(t, c) {
				if strings.HasSuffix(name, "_FILE") {
					got[name] = e.Value
				}
				if e.ValueFrom != nil {
					t.Errorf("env %s comes from valueFrom, want a file", name)
				}
			}
			if !slices.Equal(sortedKeys(got), sortedKeys(tt.want)) {
				t.Fatalf("file env %v, want %v", sortedKeys(got), sortedKeys(tt.want))
			}
			for name, want := range tt.want {
				if got[name] != want {
					t.Errorf("%s = %q, want %q", name, got[name], want)
				}
			}

			var wantItems []string
			for _, f := range tt.want {
				wantItems = append(wantItems, strings.TrimPrefix(f, dir))
			}
			slices.Sort(wantItems)
			vol, mounted := volume(r, "secrets")
			if len(tt.want) == 0 {
				if mounted || len(r.all("Secret")) != 0 {
					t.Errorf("no credentials set, but a Secret or its volume is rendered")
				}
				return
			}
			if !mounted || vol.Secret == nil || vol.Secret.SecretName != fullname {
				t.Fatalf("secrets volume = %+v, want Secret %s", vol, fullname)
			}
			var items []string
			for _, it := range vol.Secret.Items {
				if it.Key != it.Path {
					t.Errorf("item %s mounted as %s", it.Key, it.Path)
				}
				items = append(items, it.Key)
			}
			slices.Sort(items)
			if !slices.Equal(items, wantItems) {
				t.Errorf("secret items %v, want %v", items, wantItems)
			}
			if m := mount(c, "secrets"); m == nil || m.MountPath != strings.TrimSuffix(dir, "/") || !m.ReadOnly {
				t.Errorf("secrets mount = %+v, want read-only at %s", m, dir)
			}
		})
	}
}

// TestExistingSecret: the user's Secret is read through env, key by key,
// optional so that missing keys are skipped; the chart renders no Secret.
func TestExistingSecret(t *testing.T) {
	r := mustRender(t, valuesExistingSecret+"secrets:\n  sharedKey: \""+testSharedKey+"\"\n")
	if n := len(r.all("Secret")); n != 0 {
		t.Errorf("rendered %d Secrets with existingSecret, want 0", n)
	}
	want := map[string]string{
		"BRIDGE_SLACK_TOKEN":      "slackToken",
		"BRIDGE_SLACK_WEBHOOKS":   "slackWebhooks",
		"BRIDGE_DISCORD_WEBHOOKS": "discordWebhooks",
		"BRIDGE_DISCORD_TOKEN":    "discordToken",
		"BRIDGE_SHARED_KEY":       "sharedKey",
		"BRIDGE_PATH_TOKEN":       "pathToken",
	}
	env := envOf(t, r.container(t))
	for name, key := range want {
		e, ok := env[name]
		if !ok || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
			t.Errorf("%s = %+v, want a secretKeyRef", name, e)
			continue
		}
		ref := e.ValueFrom.SecretKeyRef
		if ref.Name != "my-bridge-credentials" || ref.Key != key || ref.Optional == nil || !*ref.Optional {
			t.Errorf("%s from %s/%s (optional %v), want my-bridge-credentials/%s optional", name, ref.Name, ref.Key, ref.Optional, key)
		}
	}
	for name := range env {
		if strings.HasSuffix(name, "_FILE") {
			t.Errorf("env %s is set with existingSecret", name)
		}
	}
	if _, ok := volume(r, "secrets"); ok {
		t.Errorf("secrets volume mounted with existingSecret")
	}
	for _, m := range r.manifests {
		if strings.Contains(m.text, testSharedKey) {
			t.Errorf("%s %s contains secrets.sharedKey, which existingSecret replaces", m.kind, m.name)
		}
	}
}

// TestChecksumRollsPod: changing a credential or a template changes the pod
// template, so the Deployment rolls; the annotation is a hash, not the value.
func TestChecksumRollsPod(t *testing.T) {
	annotations := func(values string) map[string]string {
		return mustRender(t, values).deployment(t).Spec.Template.Annotations
	}
	base := annotations(valuesEverything)
	for _, k := range []string{"checksum/secret", "checksum/templates"} {
		if len(base[k]) != 64 {
			t.Errorf("annotation %s = %q, want a sha256", k, base[k])
		}
	}
	if base["team"] != "platform" {
		t.Errorf("podAnnotations not applied: %v", base)
	}
	tests := []struct {
		name    string
		values  string
		changed string
	}{
		{"shared key", strings.Replace(valuesEverything, testSharedKey, "another-key", 1), "checksum/secret"},
		{"slack webhook", strings.Replace(valuesEverything, testSlackHook, "https://hooks.slack.com/services/T/B/other", 1), "checksum/secret"},
		{"template", strings.Replace(valuesEverything, "pushed", "deployed", 1), "checksum/templates"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := annotations(tt.values)
			for _, k := range []string{"checksum/secret", "checksum/templates"} {
				if same, wantSame := got[k] == base[k], k != tt.changed; same != wantSame {
					t.Errorf("%s changed: %v, want %v", k, !same, !wantSame)
				}
			}
		})
	}
}

// TestTemplatesConfigMap: the templates map becomes a ConfigMap mounted where
// BRIDGE_TEMPLATES_DIR points.
func TestTemplatesConfigMap(t *testing.T) {
	r := mustRender(t, valuesEverything)
	cm := r.one(t, "ConfigMap").obj.(*corev1.ConfigMap)
	want := map[string]string{
		"environment.push.tmpl":   `{{ define "title" }}pushed {{ .Environment }}{{ end }}`,
		"compact--_fallback.tmpl": "{{ .Type }}",
	}
	if !slices.Equal(sortedKeys(cm.Data), sortedKeys(want)) {
		t.Fatalf("configmap keys %v, want %v", sortedKeys(cm.Data), sortedKeys(want))
	}
	for k, v := range want {
		if cm.Data[k] != v {
			t.Errorf("configmap %s = %q, want %q", k, cm.Data[k], v)
		}
	}
	c := r.container(t)
	dir := plainEnv(t, c)["BRIDGE_TEMPLATES_DIR"]
	m := mount(c, "templates")
	if m == nil || m.MountPath != dir || dir == "" {
		t.Errorf("templates mount = %+v, BRIDGE_TEMPLATES_DIR = %q: want the same folder", m, dir)
	}
	if vol, ok := volume(r, "templates"); !ok || vol.ConfigMap == nil || vol.ConfigMap.Name != cm.Name {
		t.Errorf("templates volume = %+v, want ConfigMap %s", vol, cm.Name)
	}
}

// TestProbes: liveness on /healthz, readiness on /readyz, both on the http port (8080).
func TestProbes(t *testing.T) {
	c := mustRender(t, valuesDefault).container(t)
	tests := []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{
		{"liveness", c.LivenessProbe, "/healthz"},
		{"readiness", c.ReadinessProbe, "/readyz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.probe == nil || tt.probe.HTTPGet == nil {
				t.Fatalf("%s probe = %+v, want an HTTP GET", tt.name, tt.probe)
			}
			if got := tt.probe.HTTPGet.Path; got != tt.path {
				t.Errorf("path = %q, want %q", got, tt.path)
			}
			if got := tt.probe.HTTPGet.Port.String(); got != "http" {
				t.Errorf("port = %q, want http", got)
			}
		})
	}
	var ports []int32
	for _, p := range c.Ports {
		ports = append(ports, p.ContainerPort)
		if p.Name == "http" && p.ContainerPort != 8080 {
			t.Errorf("http port = %d, want 8080", p.ContainerPort)
		}
	}
	if !slices.Equal(ports, []int32{8080}) {
		t.Errorf("container ports %v, want only 8080 (the admin port stays private)", ports)
	}
}

// TestSecurityContext: non-root, read-only root filesystem, no privilege
// escalation, all capabilities dropped, RuntimeDefault seccomp, writable /tmp.
func TestSecurityContext(t *testing.T) {
	for _, vs := range valueSets {
		t.Run(vs.name, func(t *testing.T) {
			r := mustRender(t, vs.values)
			pod := r.deployment(t).Spec.Template.Spec
			psc := pod.SecurityContext
			if psc == nil {
				t.Fatal("no pod securityContext")
			}
			c := r.container(t)
			sc := c.SecurityContext
			if sc == nil {
				t.Fatal("no container securityContext")
			}
			checks := []struct {
				what string
				ok   bool
			}{
				{"pod runAsNonRoot", psc.RunAsNonRoot != nil && *psc.RunAsNonRoot},
				{"pod runAsUser 65532", psc.RunAsUser != nil && *psc.RunAsUser == 65532},
				{"pod fsGroup 65532", psc.FSGroup != nil && *psc.FSGroup == 65532},
				{"pod seccomp RuntimeDefault", psc.SeccompProfile != nil && psc.SeccompProfile.Type == corev1.SeccompProfileTypeRuntimeDefault},
				{"runAsNonRoot", sc.RunAsNonRoot != nil && *sc.RunAsNonRoot},
				{"runAsUser 65532", sc.RunAsUser != nil && *sc.RunAsUser == 65532},
				{"readOnlyRootFilesystem", sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem},
				{"allowPrivilegeEscalation false", sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation},
				{"capabilities drop ALL", sc.Capabilities != nil && slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) && len(sc.Capabilities.Add) == 0},
				{"seccomp RuntimeDefault", sc.SeccompProfile != nil && sc.SeccompProfile.Type == corev1.SeccompProfileTypeRuntimeDefault},
				{"no service account token", pod.AutomountServiceAccountToken != nil && !*pod.AutomountServiceAccountToken},
				{"/tmp mounted", mount(c, "tmp") != nil && mount(c, "tmp").MountPath == "/tmp"},
				{"/data mounted", mount(c, "data") != nil && mount(c, "data").MountPath == "/data"},
			}
			for _, ch := range checks {
				if !ch.ok {
					t.Errorf("%s: not so", ch.what)
				}
			}
			if v, ok := volume(r, "tmp"); !ok || v.EmptyDir == nil {
				t.Errorf("tmp volume = %+v, want an emptyDir", v)
			}
		})
	}
}

// TestPersistence: with persistence one replica, strategy Recreate, a PVC at
// /data and the bolt store; without it the memory store, the asked replicas
// and a warning in NOTES.
func TestPersistence(t *testing.T) {
	tests := []struct {
		name         string
		values       string
		wantReplicas int32
		wantStrategy string
		wantStore    string
		wantPVC      bool
		wantWarning  bool
	}{
		{"defaults", valuesDefault, 1, "Recreate", "bolt", true, false},
		{"scaled to zero", "replicaCount: 0\n", 0, "Recreate", "bolt", true, false},
		{"persistence off", valuesNoPersistence, 1, "", "memory", false, true},
		{"database", valuesDatabase, 3, "RollingUpdate", "postgres", false, false},
		{"database wins over persistence", "database:\n  url: postgres://db/bridge\npersistence:\n  enabled: true\n", 1, "RollingUpdate", "postgres", false, false},
		{"database, persistence off", "database:\n  existingSecret: db\npersistence:\n  enabled: false\n", 1, "RollingUpdate", "postgres", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustRender(t, tt.values)
			d := r.deployment(t)
			if d.Spec.Replicas == nil || *d.Spec.Replicas != tt.wantReplicas {
				t.Errorf("replicas = %v, want %d", d.Spec.Replicas, tt.wantReplicas)
			}
			if got := string(d.Spec.Strategy.Type); got != tt.wantStrategy {
				t.Errorf("strategy = %q, want %q", got, tt.wantStrategy)
			}
			if got := plainEnv(t, r.container(t))["BRIDGE_STORE"]; got != tt.wantStore {
				t.Errorf("BRIDGE_STORE = %q, want %q", got, tt.wantStore)
			}
			pvcs := r.all("PersistentVolumeClaim")
			if got := len(pvcs) == 1; got != tt.wantPVC {
				t.Fatalf("PVC rendered: %v, want %v", got, tt.wantPVC)
			}
			vol, _ := volume(r, "data")
			if tt.wantPVC {
				pvc := pvcs[0].obj.(*corev1.PersistentVolumeClaim)
				if vol.PersistentVolumeClaim == nil || vol.PersistentVolumeClaim.ClaimName != pvc.Name {
					t.Errorf("data volume = %+v, want claim %s", vol, pvc.Name)
				}
				if got := pvc.Spec.Resources.Requests.Storage().String(); got != "1Gi" {
					t.Errorf("PVC size = %s, want 1Gi", got)
				}
			} else if vol.EmptyDir == nil {
				t.Errorf("data volume = %+v, want an emptyDir", vol)
			}
			warned := strings.Contains(r.notes, "notices not yet delivered are lost")
			if warned != tt.wantWarning {
				t.Errorf("NOTES warns of lost notices: %v, want %v\n%s", warned, tt.wantWarning, r.notes)
			}
		})
	}
}

// TestStorageClass: "" leaves the cluster default, "-" asks for no class, a name is used.
func TestStorageClass(t *testing.T) {
	tests := []struct {
		class string
		want  *string
	}{
		{"", nil},
		{"-", ptr("")},
		{"fast-ssd", ptr("fast-ssd")},
	}
	for _, tt := range tests {
		t.Run(tt.class, func(t *testing.T) {
			r := mustRender(t, "persistence:\n  size: 5Gi\n  storageClass: \""+tt.class+"\"\n")
			pvc := r.one(t, "PersistentVolumeClaim").obj.(*corev1.PersistentVolumeClaim)
			got := pvc.Spec.StorageClassName
			if (got == nil) != (tt.want == nil) || (got != nil && *got != *tt.want) {
				t.Errorf("storageClassName = %v, want %v", deref(got), deref(tt.want))
			}
			if s := pvc.Spec.Resources.Requests.Storage().String(); s != "5Gi" {
				t.Errorf("size = %s, want 5Gi", s)
			}
		})
	}
}

// TestReplicasWithoutDatabaseFail: more than one replica without a database (bolt or memory) is refused
// with a clear message.
func TestReplicasWithoutDatabaseFail(t *testing.T) {
	for _, values := range []string{"replicaCount: 2\n", "replicaCount: 2\npersistence:\n  enabled: false\n"} {
		_, err := render(t, values)
		if err == nil {
			t.Fatalf("%q rendered, want an error", values)
		}
		for _, want := range []string{"replicaCount is 2", "single writer", "replicaCount: 1", "database.url or database.existingSecret"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%q: error %q does not say %q", values, err, want)
			}
		}
	}
}

// TestDatabase: with a database the replicas share PostgreSQL: the URL is read from a file (the chart's
// Secret or the user's), the pods roll one at a time, a PDB keeps one up and they spread across nodes.
func TestDatabase(t *testing.T) {
	t.Run("url", func(t *testing.T) {
		r := mustRender(t, valuesDatabase)
		secret := r.one(t, "Secret").obj.(*corev1.Secret)
		if got := string(secret.Data["databaseURL"]); got != testDatabaseURL {
			t.Errorf("secret databaseURL = %q, want the URL", got)
		}
		d := r.deployment(t)
		ru := d.Spec.Strategy.RollingUpdate
		if ru == nil || ru.MaxUnavailable == nil || ru.MaxUnavailable.IntValue() != 0 || ru.MaxSurge == nil || ru.MaxSurge.IntValue() != 1 {
			t.Errorf("rollingUpdate = %+v, want maxSurge 1, maxUnavailable 0", ru)
		}
		pdb := r.one(t, "PodDisruptionBudget").obj.(*policyv1.PodDisruptionBudget)
		if pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() != 1 {
			t.Errorf("PDB minAvailable = %v, want 1", pdb.Spec.MinAvailable)
		}
		spread := d.Spec.Template.Spec.TopologySpreadConstraints
		if len(spread) != 1 || spread[0].TopologyKey != "kubernetes.io/hostname" || spread[0].MaxSkew != 1 ||
			spread[0].WhenUnsatisfiable != corev1.ScheduleAnyway || spread[0].LabelSelector == nil ||
			spread[0].LabelSelector.MatchLabels["app.kubernetes.io/instance"] != releaseName {
			t.Errorf("topologySpreadConstraints = %+v, want this release's pods spread across nodes", spread)
		}
		if v, ok := volume(r, "data"); !ok || v.EmptyDir == nil {
			t.Errorf("data volume = %+v, want an emptyDir", v)
		}
		if strings.Contains(r.notes, "persistence is disabled") {
			t.Errorf("NOTES warns of the memory store with a database:\n%s", r.notes)
		}
	})
	t.Run("existing secret", func(t *testing.T) {
		r := mustRender(t, valuesDatabaseSecret)
		if n := len(r.all("Secret")); n != 0 {
			t.Errorf("rendered %d Secrets, want 0", n)
		}
		c := r.container(t)
		env := plainEnv(t, c)
		if env["BRIDGE_STORE"] != "postgres" || env["BRIDGE_DATABASE_URL_FILE"] != "/var/run/secrets/activitybridge-database/databaseURL" {
			t.Errorf("env = %v, want BRIDGE_STORE=postgres and the URL from the database volume", env)
		}
		vol, ok := volume(r, "database")
		if !ok || vol.Secret == nil || vol.Secret.SecretName != "bridge-db-app" || len(vol.Secret.Items) != 1 ||
			vol.Secret.Items[0].Key != "uri" || vol.Secret.Items[0].Path != "databaseURL" {
			t.Errorf("database volume = %+v, want key uri of Secret bridge-db-app as databaseURL", vol)
		}
		if m := mount(c, "database"); m == nil || m.MountPath != "/var/run/secrets/activitybridge-database" || !m.ReadOnly {
			t.Errorf("database mount = %+v", m)
		}
		if d := r.deployment(t); *d.Spec.Replicas != 2 {
			t.Errorf("replicas = %d, want 2", *d.Spec.Replicas)
		}
	})
	t.Run("own spread", func(t *testing.T) {
		r := mustRender(t, valuesDatabase+"topologySpreadConstraints:\n  - maxSkew: 1\n    topologyKey: topology.kubernetes.io/zone\n    whenUnsatisfiable: DoNotSchedule\n")
		spread := r.deployment(t).Spec.Template.Spec.TopologySpreadConstraints
		if len(spread) != 1 || spread[0].TopologyKey != "topology.kubernetes.io/zone" {
			t.Errorf("topologySpreadConstraints = %+v, want the given one", spread)
		}
	})

	bad := []struct {
		name, values, want string
	}{
		{"url and existing secret", "database:\n  url: postgres://db/x\n  existingSecret: s\n", "database.url and database.existingSecret are both set"},
		{"url with the user's Secret", "existingSecret: creds\ndatabase:\n  url: postgres://db/x\n", "set database.existingSecret"},
		{"existing secret without key", "database:\n  existingSecret: s\n  existingSecretKey: \"\"\n", "database.existingSecretKey is empty"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := render(t, tt.values)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("render error = %v, want one saying %q", err, tt.want)
			}
		})
	}
}

// TestSchemaRejectsWrongTypes: values.schema.json refuses wrong types before anything renders.
func TestSchemaRejectsWrongTypes(t *testing.T) {
	tests := []struct {
		name   string
		values string
		want   string // part of the error
	}{
		{"replicaCount string", "replicaCount: two\n", "replicaCount"},
		{"replicaCount negative", "replicaCount: -1\n", "replicaCount"},
		{"routes string", "routes: x\n", "routes"},
		{"routes of numbers", "routes: [1, 2]\n", "routes"},
		{"slackWebhooks string", "secrets:\n  slackWebhooks: x\n", "slackWebhooks"},
		{"slackWebhooks of maps", "secrets:\n  slackWebhooks:\n    a: {b: c}\n", "slackWebhooks"},
		{"discordWebhooks list", "secrets:\n  discordWebhooks: [a]\n", "discordWebhooks"},
		{"slackToken number", "secrets:\n  slackToken: 123\n", "slackToken"},
		{"unknown secret", "secrets:\n  slackTokn: x\n", "slackTokn"},
		{"unknown top-level value", "replicas: 2\n", "replicas"},
		{"persistence.enabled string", "persistence:\n  enabled: \"yes\"\n", "enabled"},
		{"templates not .tmpl", "templates:\n  notes.txt: x\n", "notes.txt"},
		{"templates list", "templates: [a]\n", "templates"},
		{"env nested", "env:\n  A:\n    b: c\n", "env"},
		{"env bad name", "env:\n  1BAD: x\n", "1BAD"},
		{"service port string", "service:\n  port: http\n", "port"},
		{"existingSecret map", "existingSecret: {name: x}\n", "existingSecret"},
		{"database url number", "database:\n  url: 5432\n", "url"},
		{"unknown database value", "database:\n  password: x\n", "password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := render(t, tt.values)
			if err == nil {
				t.Fatalf("values %q rendered, want a schema error", tt.values)
			}
			if !strings.Contains(err.Error(), "schema") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want a schema error naming %q", err, tt.want)
			}
		})
	}
}

// TestService: the Service exposes only the webhook port.
func TestService(t *testing.T) {
	svc := mustRender(t, "service:\n  type: LoadBalancer\n  port: 8443\n").one(t, "Service").obj.(*corev1.Service)
	if svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		t.Errorf("type = %s, want LoadBalancer", svc.Spec.Type)
	}
	if len(svc.Spec.Ports) != 1 {
		t.Fatalf("ports = %+v, want one", svc.Spec.Ports)
	}
	p := svc.Spec.Ports[0]
	if p.Port != 8443 || p.TargetPort.String() != "http" {
		t.Errorf("port %d -> %s, want 8443 -> http", p.Port, p.TargetPort.String())
	}
	if svc.Spec.Selector["app.kubernetes.io/instance"] != releaseName {
		t.Errorf("selector = %v, want this release's pods", svc.Spec.Selector)
	}
}

// TestOptionalObjects: ingress with TLS, ServiceMonitor, PDB and NetworkPolicy.
func TestOptionalObjects(t *testing.T) {
	r := mustRender(t, valuesEverything)

	t.Run("ingress", func(t *testing.T) {
		ing := r.one(t, "Ingress").obj.(*networkingv1.Ingress)
		if ing.Spec.IngressClassName == nil || *ing.Spec.IngressClassName != "nginx" {
			t.Errorf("ingressClassName = %v, want nginx", deref(ing.Spec.IngressClassName))
		}
		if len(ing.Spec.TLS) != 1 || ing.Spec.TLS[0].SecretName != "bridge-tls" || !slices.Equal(ing.Spec.TLS[0].Hosts, []string{"bridge.example.com"}) {
			t.Errorf("tls = %+v, want bridge-tls for bridge.example.com", ing.Spec.TLS)
		}
		if len(ing.Spec.Rules) != 1 || ing.Spec.Rules[0].Host != "bridge.example.com" || ing.Spec.Rules[0].HTTP == nil {
			t.Fatalf("rules = %+v", ing.Spec.Rules)
		}
		paths := ing.Spec.Rules[0].HTTP.Paths
		if len(paths) != 1 || paths[0].Path != "/webhook" || paths[0].Backend.Service == nil ||
			paths[0].Backend.Service.Name != fullname || paths[0].Backend.Service.Port.Number != 80 {
			t.Errorf("paths = %+v, want /webhook -> %s:80", paths, fullname)
		}
		if ing.Annotations["cert-manager.io/cluster-issuer"] != "letsencrypt" {
			t.Errorf("annotations = %v", ing.Annotations)
		}
	})
	t.Run("serviceMonitor", func(t *testing.T) {
		sm := r.one(t, "ServiceMonitor").obj.(*serviceMonitor)
		if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Path != "/metrics" || sm.Spec.Endpoints[0].Port != "http" {
			t.Errorf("endpoints = %+v, want http /metrics", sm.Spec.Endpoints)
		}
		if sm.Labels["release"] != "prometheus" {
			t.Errorf("labels = %v, want release=prometheus", sm.Labels)
		}
		svc := r.one(t, "Service").obj.(*corev1.Service)
		for k, v := range sm.Spec.Selector.MatchLabels {
			if svc.Labels[k] != v {
				t.Errorf("ServiceMonitor selects %s=%s, Service has %q", k, v, svc.Labels[k])
			}
		}
	})
	t.Run("podDisruptionBudget", func(t *testing.T) {
		pdb := r.one(t, "PodDisruptionBudget").obj.(*policyv1.PodDisruptionBudget)
		if pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() != 1 {
			t.Errorf("minAvailable = %v, want 1", pdb.Spec.MinAvailable)
		}
		if pdb.Spec.Selector == nil || pdb.Spec.Selector.MatchLabels["app.kubernetes.io/instance"] != releaseName {
			t.Errorf("selector = %v", pdb.Spec.Selector)
		}
	})
	t.Run("networkPolicy", func(t *testing.T) {
		np := r.one(t, "NetworkPolicy").obj.(*networkingv1.NetworkPolicy)
		if !slices.Equal(np.Spec.PolicyTypes, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}) {
			t.Errorf("policyTypes = %v, want only Ingress (egress open)", np.Spec.PolicyTypes)
		}
		if len(np.Spec.Egress) != 0 {
			t.Errorf("egress rules = %+v, want none", np.Spec.Egress)
		}
		var ports []string
		for _, rule := range np.Spec.Ingress {
			if len(rule.Ports) == 0 {
				t.Errorf("ingress rule %+v admits every port", rule)
			}
			for _, p := range rule.Ports {
				ports = append(ports, p.Port.String())
			}
		}
		if !slices.Equal(ports, []string{"8080"}) {
			t.Errorf("admitted ports %v, want [8080]", ports)
		}
		if np.Spec.PodSelector.MatchLabels["app.kubernetes.io/instance"] != releaseName {
			t.Errorf("podSelector = %v", np.Spec.PodSelector)
		}
	})
	t.Run("scheduling", func(t *testing.T) {
		pod := r.deployment(t).Spec.Template.Spec
		if pod.NodeSelector["kubernetes.io/os"] != "linux" || len(pod.Tolerations) != 1 || pod.Affinity == nil || pod.Affinity.NodeAffinity == nil {
			t.Errorf("nodeSelector %v, tolerations %v, affinity %v", pod.NodeSelector, pod.Tolerations, pod.Affinity)
		}
		if pod.ServiceAccountName != fullname {
			t.Errorf("serviceAccountName = %q, want %q", pod.ServiceAccountName, fullname)
		}
	})
}

// TestNotes: NOTES.txt prints the integration:add command for this release,
// reading the credentials with kubectl instead of printing them.
func TestNotes(t *testing.T) {
	const states = " --states=pending,in_progress,complete,cancelled"
	kubectlKey := "SHARED_KEY=\"$(kubectl get secret --namespace deploys " + fullname + " -o jsonpath='{.data.sharedKey}' | base64 -d)\""
	kubectlToken := "PATH_TOKEN=\"$(kubectl get secret --namespace deploys " + fullname + " -o jsonpath='{.data.pathToken}' | base64 -d)\""
	tests := []struct {
		name    string
		values  string
		want    []string
		notWant []string
	}{
		{"ingress with TLS, key and token", valuesEverything, []string{
			`platform integration:add --type=webhook --url="https://bridge.example.com/webhook/${PATH_TOKEN}" --shared-key="${SHARED_KEY}"` + states,
			`upsun integration:add --type=webhook --url="https://bridge.example.com/webhook/${PATH_TOKEN}" --shared-key="${SHARED_KEY}"` + states,
			`symfony integration:add --type=webhook --url="https://bridge.example.com/webhook/${PATH_TOKEN}" --shared-key="${SHARED_KEY}"` + states,
			kubectlKey, kubectlToken,
		}, []string{"WARNING"}},
		{"defaults: service DNS, unsigned", valuesDefault, []string{
			`platform integration:add --type=webhook --url="http://` + fullname + `.deploys.svc.cluster.local/webhook"` + states,
			"WARNING: no shared key",
			"WARNING: no routes",
			"ingress.enabled=true",
		}, []string{"--shared-key=\"", "PATH_TOKEN", "kubectl get secret"}},
		{"ingress without TLS, key only", "ingress:\n  enabled: true\nsecrets:\n  sharedKey: k\n", []string{
			`platform integration:add --type=webhook --url="http://activitybridge.example.com/webhook" --shared-key="${SHARED_KEY}"` + states,
			kubectlKey,
		}, []string{"PATH_TOKEN", "WARNING: no shared key"}},
		{"existingSecret: keys read if present", valuesExistingSecret, []string{
			`platform integration:add --type=webhook --url="http://` + fullname + `.deploys.svc.cluster.local/webhook${PATH_TOKEN:+/$PATH_TOKEN}" ${SHARED_KEY:+--shared-key="$SHARED_KEY"}` + states,
			strings.ReplaceAll(kubectlKey, fullname, "my-bridge-credentials"),
			strings.ReplaceAll(kubectlToken, fullname, "my-bridge-credentials"),
			"kubectl rollout restart",
		}, []string{"WARNING: no shared key"}},
		{"persistence off", valuesNoPersistence, []string{
			"WARNING: persistence is disabled",
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			notes := mustRender(t, tt.values).notes
			for _, w := range tt.want {
				if !strings.Contains(notes, w) {
					t.Errorf("NOTES.txt lacks\n  %s\ngot:\n%s", w, notes)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(notes, w) {
					t.Errorf("NOTES.txt contains %q\ngot:\n%s", w, notes)
				}
			}
		})
	}
}

// volume returns the Deployment's volume by name.
func volume(r *rendered, name string) (corev1.Volume, bool) {
	for _, m := range r.all("Deployment") {
		for _, v := range m.obj.(*appsv1.Deployment).Spec.Template.Spec.Volumes {
			if v.Name == name {
				return v, true
			}
		}
	}
	return corev1.Volume{}, false
}

// mount returns a container's volume mount by volume name.
func mount(c corev1.Container, name string) *corev1.VolumeMount {
	for i := range c.VolumeMounts {
		if c.VolumeMounts[i].Name == name {
			return &c.VolumeMounts[i]
		}
	}
	return nil
}

func ptr[T any](v T) *T { return &v }

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
