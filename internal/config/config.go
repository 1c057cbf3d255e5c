// Package config reads activitybridge's configuration from BRIDGE_* environment variables
// (kelseyhightower/envconfig), resolves the NAME_FILE variants of secrets, parses BRIDGE_ROUTES and
// checks every value, so that a bad one stops start-up with one line saying which variable, what is
// wrong and what a good value looks like. Secrets never appear in its errors or in Redacted.
//
// Load is the one place that calls envconfig.Process (cmd calls Load): it processes one field at a
// time, so that every bad value is reported, not only the first.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/kelseyhightower/envconfig"
	"github.com/rs/zerolog"

	"github.com/activitybridge/activitybridge/activity"
	"github.com/activitybridge/activitybridge/internal/route"
)

// Prefix is the prefix of every variable: BRIDGE_LISTEN, BRIDGE_ROUTES, ...
const Prefix = "BRIDGE"

// Config is the effective configuration. Field names give the variable names (envconfig split_words:
// SharedKey is BRIDGE_SHARED_KEY); see .env.example and the README for each.
type Config struct {
	// Listen is the webhook listener's host:port.
	Listen string `split_words:"true" default:":8080"`
	// SharedKey is the JWS shared key; when set, unsigned requests are refused.
	SharedKey Secret `split_words:"true"`
	// SharedKeyFile names a file holding SharedKey.
	SharedKeyFile string `split_words:"true"`
	// PathToken, when set, makes /webhook/{token} the only webhook path.
	PathToken Secret `split_words:"true"`
	// PathTokenFile names a file holding PathToken.
	PathTokenFile string `split_words:"true"`
	// MaxBody caps the request body.
	MaxBody Size `split_words:"true" default:"32MiB"`
	// Routes is BRIDGE_ROUTES as given; Table holds it parsed.
	Routes string `split_words:"true"`
	// SlackToken is the Slack bot token for slack: targets.
	SlackToken Secret `split_words:"true"`
	// SlackTokenFile names a file holding SlackToken.
	SlackTokenFile string `split_words:"true"`
	// SlackWebhooks are the incoming webhooks for slack-webhook:NAME targets.
	SlackWebhooks Hooks `split_words:"true"`
	// SlackWebhooksFile names a file holding SlackWebhooks (entries separated by commas or newlines).
	SlackWebhooksFile string `split_words:"true"`
	// DiscordWebhooks are the webhooks for discord:NAME targets.
	DiscordWebhooks Hooks `split_words:"true"`
	// DiscordWebhooksFile names a file holding DiscordWebhooks.
	DiscordWebhooksFile string `split_words:"true"`
	// DiscordToken is the Discord bot token (without "Bot ") for discord-channel: targets.
	DiscordToken Secret `split_words:"true"`
	// DiscordTokenFile names a file holding DiscordToken.
	DiscordTokenFile string `split_words:"true"`
	// SlackAPIUrl is the Slack Web API base, always ending in "/". (Spelt Url, not URL, because
	// envconfig's split_words would read SlackAPIURL as BRIDGE_SLACK_APIURL.)
	SlackAPIUrl string `split_words:"true" default:"https://slack.com/api/"`
	// DiscordAPIUrl is the Discord API base, always ending in "/" (spelt Url for the same reason).
	DiscordAPIUrl string `split_words:"true" default:"https://discord.com/api/"`
	// TemplatesDir is a folder whose .tmpl files override the embedded ones; "" for none.
	TemplatesDir string `split_words:"true"`
	// Store is bolt, postgres or memory.
	Store string `split_words:"true" default:"bolt"`
	// DataDir is where the bolt file lives.
	DataDir string `split_words:"true" default:"./data"`
	// DatabaseURL is the PostgreSQL URL or key=value DSN of BRIDGE_STORE=postgres (it may hold a password).
	DatabaseURL Secret `split_words:"true"`
	// DatabaseURLFile names a file holding DatabaseURL.
	DatabaseURLFile string `split_words:"true"`
	// Lease is how long a replica holds a destination's lane without renewing it (postgres store): a
	// killed replica's lanes are taken over after at most this long.
	Lease time.Duration `split_words:"true" default:"15s"`
	// MaxAge is how long a notice may stay undelivered before it becomes a dead letter.
	MaxAge time.Duration `split_words:"true" default:"24h"`
	// AdminListen is the admin listener's host:port.
	AdminListen string `split_words:"true" default:"127.0.0.1:8081"`
	// LogLevel is a zerolog level name; see Level.
	LogLevel string `split_words:"true" default:"info"`
	// LogFormat is json, console or auto.
	LogFormat string `split_words:"true" default:"auto"`
	// PublicConsoleURL is the console of "view activity" links: a URL, and PROJECT=URL entries for
	// projects with a console of their own, comma-separated (see activity.ConsoleBase); the platform a
	// body shows picks Platform.sh's or Upsun's console while the URL is one of theirs.
	PublicConsoleURL string `split_words:"true" default:"https://console.platform.sh"`
	// ProjectNames gives a display title per project ID.
	ProjectNames ProjectNames `split_words:"true"`
	// Repositories gives the git repository per project ID, for commit and compare links.
	Repositories Repositories `split_words:"true"`

	// Table is Routes parsed; Load fills it.
	Table *route.Table `ignored:"true"`
}

// secretFiles pairs each secret field with its _FILE field.
var secretFiles = []struct{ field, file string }{
	{"SharedKey", "SharedKeyFile"},
	{"PathToken", "PathTokenFile"},
	{"SlackToken", "SlackTokenFile"},
	{"SlackWebhooks", "SlackWebhooksFile"},
	{"DiscordWebhooks", "DiscordWebhooksFile"},
	{"DiscordToken", "DiscordTokenFile"},
	{"DatabaseURL", "DatabaseURLFile"},
}

var hookExamples = map[string]string{
	"SlackWebhooks":   "deploys=https://hooks.slack.com/services/T000/B000/XXXX",
	"DiscordWebhooks": "prod=https://discord.com/api/webhooks/123456789012345678/XXXX",
}

// Load reads the BRIDGE_* variables of the process environment, reads the _FILE secrets, parses
// BRIDGE_ROUTES into Table and checks everything, including that every route target has its
// credentials. Its error joins one line per bad value (see errors.Join), none holding a secret.
func Load() (*Config, error) {
	c := &Config{}
	keys := Keys()
	var errs []error
	failed := map[string]bool{} // fields with a reported problem, not to be checked again
	v := reflect.ValueOf(c).Elem()
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if f.Tag.Get("ignored") == "true" {
			continue
		}
		// envconfig.Process stops at the first bad value; one field at a time, every bad value is
		// reported, with the same names and decoding.
		one := reflect.New(reflect.StructOf([]reflect.StructField{{Name: f.Name, Type: f.Type, Tag: f.Tag}}))
		if err := envconfig.Process(Prefix, one.Interface()); err != nil {
			errs = append(errs, translate(f, keys[f.Name], err))
			failed[f.Name] = true
			continue
		}
		v.Field(i).Set(one.Elem().Field(0))
	}
	errs = append(errs, c.readFiles(keys, failed)...)
	errs = append(errs, c.validate(keys, failed)...)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, nil
}

// Keys maps each field of Config that is read from the environment to its variable name, as
// envconfig names it (SharedKey → BRIDGE_SHARED_KEY).
func Keys() map[string]string {
	var b bytes.Buffer
	if err := envconfig.Usagef(Prefix, &Config{}, &b, "{{range .}}{{.Name}} {{.Key}}\n{{end}}"); err != nil {
		panic(err) // the template and the struct are fixed: this cannot fail at run time
	}
	keys := map[string]string{}
	for line := range strings.Lines(b.String()) {
		name, key, _ := strings.Cut(strings.TrimSpace(line), " ")
		keys[name] = key
	}
	return keys
}

// Unknown returns the BRIDGE_* names in environ (os.Environ form, NAME=value) that Config does not
// read, sorted, so that start-up can warn about a misspelt variable instead of silently ignoring it.
func Unknown(environ []string) []string {
	known := map[string]bool{}
	for _, k := range Keys() {
		known[k] = true
	}
	var out []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, Prefix+"_") && !known[name] && !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// translate turns an envconfig error into one line naming the variable, never quoting a secret.
func translate(f reflect.StructField, key string, err error) error {
	var pe *envconfig.ParseError
	if !errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", key, err)
	}
	var he *hooksError
	var ve *valueError
	switch {
	case errors.As(pe.Err, &ve):
		return fmt.Errorf("%s: %s", key, ve.msg)
	case errors.As(pe.Err, &he):
		return fmt.Errorf("%s: %s; %s, e.g. %s", key, he.problem, hooksHint, hookExamples[f.Name])
	case f.Type == reflect.TypeFor[Size]():
		return fmt.Errorf("%s: %s", key, pe.Err.Error())
	case f.Type == reflect.TypeFor[time.Duration]():
		return fmt.Errorf("%s: %q is not a duration; use a number with a unit, e.g. 24h or 90m", key, pe.Value)
	case f.Type == reflect.TypeFor[Secret]() || f.Type == reflect.TypeFor[Hooks]():
		return fmt.Errorf("%s: the value cannot be read", key)
	default:
		return fmt.Errorf("%s: %q cannot be read", key, pe.Value)
	}
}

// readFiles fills each secret from its _FILE variable.
func (c *Config) readFiles(keys map[string]string, failed map[string]bool) []error {
	var errs []error
	v := reflect.ValueOf(c).Elem()
	for _, sf := range secretFiles {
		path := v.FieldByName(sf.file).String()
		if path == "" {
			continue
		}
		// Every branch below that reports a problem leaves the secret unusable.
		failed[sf.field] = true
		field := v.FieldByName(sf.field)
		key, fileKey := keys[sf.field], keys[sf.file]
		if !field.IsZero() {
			errs = append(errs, fmt.Errorf("%s and %s are both set; set only one", key, fileKey))
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			reason := err
			var pe *os.PathError
			if errors.As(err, &pe) {
				reason = pe.Err
			}
			errs = append(errs, fmt.Errorf("%s: cannot read %q: %v; point it at a readable file holding the value of %s", fileKey, path, reason, key))
			continue
		}
		content := strings.TrimSuffix(strings.TrimSuffix(string(data), "\n"), "\r")
		if content == "" {
			errs = append(errs, fmt.Errorf("%s: %q is empty; put the value of %s in it", fileKey, path, key))
			continue
		}
		switch p := field.Addr().Interface().(type) {
		case *Secret:
			*p = Secret(content)
		case *Hooks:
			if err := p.Decode(content); err != nil {
				var he *hooksError
				errors.As(err, &he)
				errs = append(errs, fmt.Errorf("%s: %s; %s, e.g. %s", fileKey, he.problem, hooksHint, hookExamples[sf.field]))
				continue
			}
		}
		delete(failed, sf.field)
	}
	return errs
}

const databaseURLExample = "postgres://activitybridge:PASSWORD@db.example.com:5432/activitybridge?sslmode=require"

var logLevels = []string{"trace", "debug", "info", "warn", "error", "fatal", "panic", "disabled"}

var pathTokenRE = regexp.MustCompile(`^[A-Za-z0-9._~-]+$`)

// validate checks each value and parses the routes; it may normalise URLs.
func (c *Config) validate(keys map[string]string, failed map[string]bool) []error {
	var errs []error
	bad := func(field, format string, args ...any) {
		if failed[field] {
			return
		}
		failed[field] = true
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{keys[field]}, args...)...))
	}

	if !isHostPort(c.Listen) {
		bad("Listen", "%q is not a host:port address; use e.g. :8080 or 0.0.0.0:8080", c.Listen)
	}
	if !isHostPort(c.AdminListen) {
		bad("AdminListen", "%q is not a host:port address; use e.g. 127.0.0.1:8081", c.AdminListen)
	} else if c.AdminListen == c.Listen {
		bad("AdminListen", "%q is also BRIDGE_LISTEN; use another port, e.g. 127.0.0.1:8081", c.AdminListen)
	}
	if c.MaxBody < 1<<10 || c.MaxBody > 1<<30 {
		bad("MaxBody", "%s is not between 1KiB and 1GiB; use e.g. 32MiB", c.MaxBody)
	}
	for _, u := range []struct {
		field   string
		p       *string
		example string
		slash   bool
	}{
		{"SlackAPIUrl", &c.SlackAPIUrl, "https://slack.com/api/", true},
		{"DiscordAPIUrl", &c.DiscordAPIUrl, "https://discord.com/api/", true},
	} {
		parsed, err := url.Parse(*u.p)
		if err != nil || (parsed.Scheme != "http" && parsed.Scheme != "https") || parsed.Host == "" {
			bad(u.field, "%q is not an http(s) URL; use e.g. %s", *u.p, u.example)
			continue
		}
		if u.slash && !strings.HasSuffix(*u.p, "/") {
			*u.p += "/"
		} else if !u.slash {
			*u.p = strings.TrimRight(*u.p, "/")
		}
	}
	if consoles, err := activity.ParseConsoles(c.PublicConsoleURL); err != nil {
		bad("PublicConsoleURL", "%s", err)
	} else {
		c.PublicConsoleURL = consoles
	}
	switch c.Store {
	case "bolt":
		if c.DataDir == "" {
			bad("DataDir", "is empty while BRIDGE_STORE is bolt; use a writable folder, e.g. ./data")
		}
	case "postgres":
		if !c.DatabaseURL.IsSet() {
			bad("DatabaseURL", "is empty while BRIDGE_STORE is postgres; set it (or BRIDGE_DATABASE_URL_FILE) to e.g. %s", databaseURLExample)
		} else if _, err := pgconn.ParseConfig(c.DatabaseURL.Value()); err != nil {
			// pgconn's error quotes the connection string: say what to do without it.
			bad("DatabaseURL", "is not a PostgreSQL URL or key=value DSN pgx can use; use e.g. %s or host=db.example.com user=activitybridge dbname=activitybridge sslmode=require", databaseURLExample)
		}
	case "memory":
	default:
		bad("Store", "%q is not a store; use bolt, postgres or memory", c.Store)
	}
	if c.Store != "postgres" && c.DatabaseURL.IsSet() {
		bad("DatabaseURL", "is set while BRIDGE_STORE is %s; set BRIDGE_STORE=postgres to use the database, or unset it", c.Store)
	}
	if c.Lease < time.Second || c.Lease > 10*time.Minute {
		bad("Lease", "%s is not between 1s and 10m; use e.g. 15s", c.Lease)
	}
	if c.MaxAge <= 0 {
		bad("MaxAge", "%s is not more than 0; use e.g. 24h", c.MaxAge)
	}
	if !slices.Contains(logLevels, strings.ToLower(c.LogLevel)) {
		bad("LogLevel", "%q is not a log level; use trace, debug, info, warn, error, fatal, panic or disabled", c.LogLevel)
	}
	if !slices.Contains([]string{"json", "console", "auto"}, c.LogFormat) {
		bad("LogFormat", "%q is not a log format; use json, console or auto", c.LogFormat)
	}
	if c.TemplatesDir != "" {
		if fi, err := os.Stat(c.TemplatesDir); err != nil || !fi.IsDir() {
			bad("TemplatesDir", "%q is not a folder; use a folder of .tmpl files, e.g. /etc/activitybridge/templates, or leave it unset", c.TemplatesDir)
		}
	}

	// Secrets: say what is wrong, never show them.
	if t := c.SlackToken.Value(); t != "" && !strings.HasPrefix(t, "xoxb-") && !strings.HasPrefix(t, "xoxp-") {
		bad("SlackToken", "is not a Slack bot token (those start with xoxb-); use the Bot User OAuth Token of your Slack app")
	}
	if t := c.DiscordToken.Value(); t != "" {
		switch {
		case strings.HasPrefix(t, "Bot "):
			bad("DiscordToken", "starts with \"Bot \"; give the token alone, activitybridge adds the prefix")
		case hasSpace(t):
			bad("DiscordToken", "contains spaces; give the bot token alone, as the Discord developer portal shows it")
		}
	}
	if t := c.PathToken.Value(); t != "" {
		switch {
		case !pathTokenRE.MatchString(t):
			bad("PathToken", "may use only letters, digits, -, _, . and ~ (it is part of the URL); use e.g. the output of: openssl rand -hex 16")
		case len(t) < 16:
			bad("PathToken", "is shorter than 16 characters; use e.g. the output of: openssl rand -hex 16")
		}
	}
	if t := c.SharedKey.Value(); t != "" && hasSpace(t) {
		bad("SharedKey", "contains spaces or line breaks; give the shared key exactly as configured in the webhook integration")
	}
	for _, name := range c.DiscordWebhooks.Names() {
		if !isDiscordWebhookURL(c.DiscordWebhooks[name].Value()) {
			bad("DiscordWebhooks", "the URL of %q has no /webhooks/ID/TOKEN path; use the webhook URL Discord shows, e.g. %s", name, hookExamples["DiscordWebhooks"])
		}
	}

	t, err := route.Parse(c.Routes)
	if err != nil {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			errs = append(errs, j.Unwrap()...)
		} else {
			errs = append(errs, err)
		}
		return errs
	}
	c.Table = t
	errs = append(errs, c.checkCredentials(keys, failed)...)
	return errs
}

// checkCredentials reports each route target (once, at its first line) whose credentials are not set.
// A credential that already has a problem reported is not reported again here.
func (c *Config) checkCredentials(keys map[string]string, failed map[string]bool) []error {
	var errs []error
	seen := map[string]bool{}
	for _, r := range c.Table.Rules {
		for _, t := range r.Targets {
			if seen[t.Service()] {
				continue
			}
			seen[t.Service()] = true
			var msg string
			switch t.Kind {
			case route.KindSlack:
				if !c.SlackToken.IsSet() && !failed["SlackToken"] {
					msg = fmt.Sprintf("%s needs %s (or %s); set it to your Slack bot token (xoxb-...)", t.Service(), keys["SlackToken"], keys["SlackTokenFile"])
				}
			case route.KindSlackWebhook:
				if _, ok := c.SlackWebhooks[t.Name]; !ok && !failed["SlackWebhooks"] {
					msg = fmt.Sprintf("%s needs a webhook named %q in %s; add %s=https://hooks.slack.com/services/... to it", t.Service(), t.Name, keys["SlackWebhooks"], t.Name)
				}
			case route.KindDiscord:
				if _, ok := c.DiscordWebhooks[t.Name]; !ok && !failed["DiscordWebhooks"] {
					msg = fmt.Sprintf("%s needs a webhook named %q in %s; add %s=https://discord.com/api/webhooks/ID/TOKEN to it", t.Service(), t.Name, keys["DiscordWebhooks"], t.Name)
				}
			case route.KindDiscordChannel:
				if !c.DiscordToken.IsSet() && !failed["DiscordToken"] {
					msg = fmt.Sprintf("%s needs %s (or %s); set it to your Discord bot token", t.Service(), keys["DiscordToken"], keys["DiscordTokenFile"])
				}
			}
			if msg != "" {
				errs = append(errs, &route.Error{Line: r.Line, Msg: msg})
			}
		}
	}
	return errs
}

func isHostPort(s string) bool {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return false
	}
	n, err := strconv.Atoi(port)
	return err == nil && n >= 0 && n <= 65535
}

// isDiscordWebhookURL reports whether the path holds webhooks/<numeric ID>/<token>.
func isDiscordWebhookURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	for i := 0; i+2 < len(parts); i++ {
		if parts[i] == "webhooks" && isDigits(parts[i+1]) && parts[i+2] != "" {
			return true
		}
	}
	return false
}

func isDigits(s string) bool {
	return s != "" && strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' }) < 0
}

// Level returns LogLevel as a zerolog level (info if it does not parse; Load has checked it).
func (c *Config) Level() zerolog.Level {
	l, err := zerolog.ParseLevel(strings.ToLower(c.LogLevel))
	if err != nil {
		return zerolog.InfoLevel
	}
	return l
}

// Redacted returns the effective configuration by variable name, for a start-up log line: secrets
// read "[set]" or "" (unset), webhook maps show their names only, BRIDGE_ROUTES its rules in canonical
// form separated by "; ".
func (c *Config) Redacted() map[string]string {
	out := map[string]string{}
	v := reflect.ValueOf(c).Elem()
	keys := Keys()
	for name, key := range keys {
		switch x := v.FieldByName(name).Interface().(type) {
		case Secret:
			out[key] = ""
			if x.IsSet() {
				out[key] = "[set]"
			}
		case Hooks:
			out[key] = x.String()
		case Size:
			out[key] = x.String()
		case time.Duration:
			out[key] = x.String()
		case string:
			out[key] = x
		default:
			out[key] = fmt.Sprint(x)
		}
	}
	if c.Table != nil {
		out[keys["Routes"]] = strings.ReplaceAll(strings.TrimSuffix(c.Table.String(), "\n"), "\n", "; ")
	}
	return out
}

// MarshalZerologObject writes Redacted as fields, sorted by name, for log.Info().Object("config", c).
func (c *Config) MarshalZerologObject(e *zerolog.Event) {
	r := c.Redacted()
	names := make([]string, 0, len(r))
	for k := range r {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		e.Str(k, r[k])
	}
}
