package config

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/activitybridge/activitybridge/internal/route"
)

// setEnv clears every BRIDGE_* variable Config reads, then sets env; all is restored after the test.
func setEnv(t *testing.T, env map[string]string) {
	t.Helper()
	for _, k := range Keys() {
		t.Setenv(k, "")
		if err := os.Unsetenv(k); err != nil {
			t.Fatal(err)
		}
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
}

func TestDefaults(t *testing.T) {
	setEnv(t, nil)
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		Listen:           ":8080",
		MaxBody:          32 << 20,
		SlackAPIUrl:      "https://slack.com/api/",
		DiscordAPIUrl:    "https://discord.com/api/",
		Store:            "bolt",
		DataDir:          "./data",
		MaxAge:           24 * time.Hour,
		Lease:            15 * time.Second,
		AdminListen:      "127.0.0.1:8081",
		LogLevel:         "info",
		LogFormat:        "auto",
		PublicConsoleURL: "https://console.platform.sh",
		Table:            &route.Table{Default: true},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Load() =\n%+v\nwant\n%+v", c, want)
	}
	if got := c.Level(); got != zerolog.InfoLevel {
		t.Errorf("Level() = %v, want info", got)
	}
}

func TestGoodValues(t *testing.T) {
	dir := t.TempDir()
	setEnv(t, map[string]string{
		"BRIDGE_LISTEN":             "0.0.0.0:9000",
		"BRIDGE_ADMIN_LISTEN":       "localhost:9001",
		"BRIDGE_MAX_BODY":           "512KiB",
		"BRIDGE_SLACK_API_URL":      "http://127.0.0.1:4000/api",
		"BRIDGE_DISCORD_API_URL":    "http://127.0.0.1:4001/api/",
		"BRIDGE_PUBLIC_CONSOLE_URL": "https://console.upsun.com/",
		"BRIDGE_TEMPLATES_DIR":      dir,
		"BRIDGE_STORE":              "memory",
		"BRIDGE_DATA_DIR":           "",
		"BRIDGE_MAX_AGE":            "90m",
		"BRIDGE_LOG_LEVEL":          "DEBUG",
		"BRIDGE_LOG_FORMAT":         "json",
		"BRIDGE_SLACK_TOKEN":        "xoxb-1-2-abc",
		"BRIDGE_SLACK_WEBHOOKS":     "previews=https://hooks.slack.com/services/T0/B0/X, ops = http://127.0.0.1:5000/hook",
		"BRIDGE_DISCORD_WEBHOOKS":   "prod=https://discord.com/api/webhooks/123/tok",
		"BRIDGE_DISCORD_TOKEN":      "abc.def.ghi",
		"BRIDGE_PATH_TOKEN":         "0123456789abcdef",
		"BRIDGE_ROUTES":             "*/main -> slack:#deploys, discord:prod; */* -> slack-webhook:ops, discord-channel:42",
	})
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		got, want any
	}{
		{"Listen", c.Listen, "0.0.0.0:9000"},
		{"AdminListen", c.AdminListen, "localhost:9001"},
		{"MaxBody", c.MaxBody, Size(512 << 10)},
		{"SlackAPIUrl gets a slash", c.SlackAPIUrl, "http://127.0.0.1:4000/api/"},
		{"DiscordAPIUrl", c.DiscordAPIUrl, "http://127.0.0.1:4001/api/"},
		{"PublicConsoleURL loses its slash", c.PublicConsoleURL, "https://console.upsun.com"},
		{"TemplatesDir", c.TemplatesDir, dir},
		{"Store", c.Store, "memory"},
		{"MaxAge", c.MaxAge, 90 * time.Minute},
		{"Level", c.Level(), zerolog.DebugLevel},
		{"LogFormat", c.LogFormat, "json"},
		{"SlackToken", c.SlackToken.Value(), "xoxb-1-2-abc"},
		{"SlackWebhooks names", c.SlackWebhooks.String(), "ops,previews"},
		{"SlackWebhooks trimmed", c.SlackWebhooks["ops"].Value(), "http://127.0.0.1:5000/hook"},
		{"DiscordWebhooks", c.DiscordWebhooks["prod"].Value(), "https://discord.com/api/webhooks/123/tok"},
		{"DiscordToken", c.DiscordToken.Value(), "abc.def.ghi"},
		{"PathToken", c.PathToken.Value(), "0123456789abcdef"},
		{"Table", c.Table.String(), "*/main -> slack:#deploys, discord:prod\n*/* -> slack-webhook:ops, discord-channel:42\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !reflect.DeepEqual(tt.got, tt.want) {
				t.Errorf("got %#v, want %#v", tt.got, tt.want)
			}
		})
	}
}

func TestPostgresStore(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
	}{
		{"url", map[string]string{"BRIDGE_DATABASE_URL": "postgres://bridge:pw@db.example.com:5432/bridge?sslmode=require"}},
		{"dsn", map[string]string{"BRIDGE_DATABASE_URL": "host=db.example.com user=bridge password='p w' dbname=bridge"}},
		{"unix socket", map[string]string{"BRIDGE_DATABASE_URL": "postgres:///bridge?host=/run/postgresql"}},
		{"file", map[string]string{"BRIDGE_DATABASE_URL_FILE": writeFile(t, "db", "postgres://bridge:pw@db/bridge\n")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"BRIDGE_STORE": "postgres", "BRIDGE_LEASE": "3s"}
			for k, v := range tt.env {
				env[k] = v
			}
			setEnv(t, env)
			c, err := Load()
			if err != nil {
				t.Fatal(err)
			}
			want := env["BRIDGE_DATABASE_URL"]
			if want == "" {
				want = "postgres://bridge:pw@db/bridge"
			}
			if c.Store != "postgres" || c.DatabaseURL.Value() != want || c.Lease != 3*time.Second {
				t.Errorf("Store, DatabaseURL, Lease = %q, %q, %v; want postgres, %q, 3s", c.Store, c.DatabaseURL.Value(), c.Lease, want)
			}
			if got := c.Redacted()["BRIDGE_DATABASE_URL"]; got != "[set]" {
				t.Errorf("Redacted()[BRIDGE_DATABASE_URL] = %q, want [set]", got)
			}
		})
	}
}

func TestBadValues(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"listen", map[string]string{"BRIDGE_LISTEN": "8080"},
			`BRIDGE_LISTEN: "8080" is not a host:port address; use e.g. :8080 or 0.0.0.0:8080`},
		{"listen port", map[string]string{"BRIDGE_LISTEN": ":http"},
			`BRIDGE_LISTEN: ":http" is not a host:port address; use e.g. :8080 or 0.0.0.0:8080`},
		{"admin listen", map[string]string{"BRIDGE_ADMIN_LISTEN": ""},
			`BRIDGE_ADMIN_LISTEN: "" is not a host:port address; use e.g. 127.0.0.1:8081`},
		{"admin listen same as listen", map[string]string{"BRIDGE_ADMIN_LISTEN": ":8080"},
			`BRIDGE_ADMIN_LISTEN: ":8080" is also BRIDGE_LISTEN; use another port, e.g. 127.0.0.1:8081`},
		{"max body unit", map[string]string{"BRIDGE_MAX_BODY": "32XB"},
			`BRIDGE_MAX_BODY: "32XB" is not a size; use a number of bytes with an optional unit, e.g. 32MiB`},
		{"max body negative", map[string]string{"BRIDGE_MAX_BODY": "-1"},
			`BRIDGE_MAX_BODY: "-1" is not a size; use a number of bytes with an optional unit, e.g. 32MiB`},
		{"max body too small", map[string]string{"BRIDGE_MAX_BODY": "1000"},
			`BRIDGE_MAX_BODY: 1KB is not between 1KiB and 1GiB; use e.g. 32MiB`},
		{"max body too large", map[string]string{"BRIDGE_MAX_BODY": "2GiB"},
			`BRIDGE_MAX_BODY: 2GiB is not between 1KiB and 1GiB; use e.g. 32MiB`},
		{"slack api url", map[string]string{"BRIDGE_SLACK_API_URL": "slack.com/api"},
			`BRIDGE_SLACK_API_URL: "slack.com/api" is not an http(s) URL; use e.g. https://slack.com/api/`},
		{"discord api url", map[string]string{"BRIDGE_DISCORD_API_URL": "ftp://discord.com/api/"},
			`BRIDGE_DISCORD_API_URL: "ftp://discord.com/api/" is not an http(s) URL; use e.g. https://discord.com/api/`},
		{"console url", map[string]string{"BRIDGE_PUBLIC_CONSOLE_URL": "https://"},
			`BRIDGE_PUBLIC_CONSOLE_URL: "https://" is not an http(s) URL; use e.g. https://console.platform.sh, or abcdefgh1234567=https://console.upsun.com for one project`},
		{"templates dir", map[string]string{"BRIDGE_TEMPLATES_DIR": "/nonexistent/templates"},
			`BRIDGE_TEMPLATES_DIR: "/nonexistent/templates" is not a folder; use a folder of .tmpl files, e.g. /etc/activitybridge/templates, or leave it unset`},
		{"store", map[string]string{"BRIDGE_STORE": "redis"},
			`BRIDGE_STORE: "redis" is not a store; use bolt, postgres or memory`},
		{"database url missing", map[string]string{"BRIDGE_STORE": "postgres"},
			`BRIDGE_DATABASE_URL: is empty while BRIDGE_STORE is postgres; set it (or BRIDGE_DATABASE_URL_FILE) to e.g. postgres://activitybridge:PASSWORD@db.example.com:5432/activitybridge?sslmode=require`},
		{"database url unreadable", map[string]string{"BRIDGE_STORE": "postgres", "BRIDGE_DATABASE_URL": "postgres://u:p@db:notaport/x"},
			`BRIDGE_DATABASE_URL: is not a PostgreSQL URL or key=value DSN pgx can use; use e.g. postgres://activitybridge:PASSWORD@db.example.com:5432/activitybridge?sslmode=require or host=db.example.com user=activitybridge dbname=activitybridge sslmode=require`},
		{"database url bad dsn", map[string]string{"BRIDGE_STORE": "postgres", "BRIDGE_DATABASE_URL": "host=db password='unterminated"},
			`BRIDGE_DATABASE_URL: is not a PostgreSQL URL or key=value DSN pgx can use; use e.g. postgres://activitybridge:PASSWORD@db.example.com:5432/activitybridge?sslmode=require or host=db.example.com user=activitybridge dbname=activitybridge sslmode=require`},
		{"database url without postgres store", map[string]string{"BRIDGE_DATABASE_URL": "postgres://db/x"},
			`BRIDGE_DATABASE_URL: is set while BRIDGE_STORE is bolt; set BRIDGE_STORE=postgres to use the database, or unset it`},
		{"lease too short", map[string]string{"BRIDGE_LEASE": "100ms"},
			`BRIDGE_LEASE: 100ms is not between 1s and 10m; use e.g. 15s`},
		{"lease not a duration", map[string]string{"BRIDGE_LEASE": "15"},
			`BRIDGE_LEASE: "15" is not a duration; use a number with a unit, e.g. 24h or 90m`},
		{"data dir", map[string]string{"BRIDGE_DATA_DIR": ""},
			`BRIDGE_DATA_DIR: is empty while BRIDGE_STORE is bolt; use a writable folder, e.g. ./data`},
		{"max age", map[string]string{"BRIDGE_MAX_AGE": "1 day"},
			`BRIDGE_MAX_AGE: "1 day" is not a duration; use a number with a unit, e.g. 24h or 90m`},
		{"max age zero", map[string]string{"BRIDGE_MAX_AGE": "0s"},
			`BRIDGE_MAX_AGE: 0s is not more than 0; use e.g. 24h`},
		{"log level", map[string]string{"BRIDGE_LOG_LEVEL": "verbose"},
			`BRIDGE_LOG_LEVEL: "verbose" is not a log level; use trace, debug, info, warn, error, fatal, panic or disabled`},
		{"log level number", map[string]string{"BRIDGE_LOG_LEVEL": "1"},
			`BRIDGE_LOG_LEVEL: "1" is not a log level; use trace, debug, info, warn, error, fatal, panic or disabled`},
		{"log format", map[string]string{"BRIDGE_LOG_FORMAT": "text"},
			`BRIDGE_LOG_FORMAT: "text" is not a log format; use json, console or auto`},
		{"slack token", map[string]string{"BRIDGE_SLACK_TOKEN": "xapp-1-secret"},
			`BRIDGE_SLACK_TOKEN: is not a Slack bot token (those start with xoxb-); use the Bot User OAuth Token of your Slack app`},
		{"discord token prefix", map[string]string{"BRIDGE_DISCORD_TOKEN": "Bot abc.def"},
			`BRIDGE_DISCORD_TOKEN: starts with "Bot "; give the token alone, activitybridge adds the prefix`},
		{"discord token space", map[string]string{"BRIDGE_DISCORD_TOKEN": "abc def"},
			`BRIDGE_DISCORD_TOKEN: contains spaces; give the bot token alone, as the Discord developer portal shows it`},
		{"path token chars", map[string]string{"BRIDGE_PATH_TOKEN": "0123456789abcdef/x"},
			`BRIDGE_PATH_TOKEN: may use only letters, digits, -, _, . and ~ (it is part of the URL); use e.g. the output of: openssl rand -hex 16`},
		{"path token short", map[string]string{"BRIDGE_PATH_TOKEN": "abc"},
			`BRIDGE_PATH_TOKEN: is shorter than 16 characters; use e.g. the output of: openssl rand -hex 16`},
		{"shared key newline", map[string]string{"BRIDGE_SHARED_KEY": "abc\n"},
			`BRIDGE_SHARED_KEY: contains spaces or line breaks; give the shared key exactly as configured in the webhook integration`},
		{"slack webhooks bare url", map[string]string{"BRIDGE_SLACK_WEBHOOKS": "https://hooks.slack.com/services/T0/B0/X"},
			`BRIDGE_SLACK_WEBHOOKS: entry 1 has no name; use name=URL pairs separated by commas, e.g. deploys=https://hooks.slack.com/services/T000/B000/XXXX`},
		{"slack webhooks bad name", map[string]string{"BRIDGE_SLACK_WEBHOOKS": "Prod=https://hooks.slack.com/x"},
			`BRIDGE_SLACK_WEBHOOKS: name "Prod" may use only a-z, 0-9, - and _; use name=URL pairs separated by commas, e.g. deploys=https://hooks.slack.com/services/T000/B000/XXXX`},
		{"slack webhooks duplicate", map[string]string{"BRIDGE_SLACK_WEBHOOKS": "a=https://x.example/1,a=https://x.example/2"},
			`BRIDGE_SLACK_WEBHOOKS: name "a" is given twice; use name=URL pairs separated by commas, e.g. deploys=https://hooks.slack.com/services/T000/B000/XXXX`},
		{"discord webhooks no url", map[string]string{"BRIDGE_DISCORD_WEBHOOKS": "prod="},
			`BRIDGE_DISCORD_WEBHOOKS: "prod" has no URL; use name=URL pairs separated by commas, e.g. prod=https://discord.com/api/webhooks/123456789012345678/XXXX`},
		{"discord webhooks scheme", map[string]string{"BRIDGE_DISCORD_WEBHOOKS": "prod=discord.com/api/webhooks/1/t"},
			`BRIDGE_DISCORD_WEBHOOKS: the URL of "prod" does not start with https://; use name=URL pairs separated by commas, e.g. prod=https://discord.com/api/webhooks/123456789012345678/XXXX`},
		{"discord webhooks parse", map[string]string{"BRIDGE_DISCORD_WEBHOOKS": "prod=https://disc ord.com/%zz"},
			`BRIDGE_DISCORD_WEBHOOKS: the URL of "prod" does not parse; use name=URL pairs separated by commas, e.g. prod=https://discord.com/api/webhooks/123456789012345678/XXXX`},
		{"discord webhooks host", map[string]string{"BRIDGE_DISCORD_WEBHOOKS": "prod=https:///api/webhooks/1/t"},
			`BRIDGE_DISCORD_WEBHOOKS: the URL of "prod" has no host; use name=URL pairs separated by commas, e.g. prod=https://discord.com/api/webhooks/123456789012345678/XXXX`},
		{"discord webhooks path", map[string]string{"BRIDGE_DISCORD_WEBHOOKS": "prod=https://discord.com/api/channels/1"},
			`BRIDGE_DISCORD_WEBHOOKS: the URL of "prod" has no /webhooks/ID/TOKEN path; use the webhook URL Discord shows, e.g. prod=https://discord.com/api/webhooks/123456789012345678/XXXX`},
		{"routes", map[string]string{"BRIDGE_ROUTES": "*/* -> slak:#deploys"},
			`BRIDGE_ROUTES line 1: unknown target kind "slak"; use slack:, slack-webhook:, discord:, discord-channel: or console`},
		{"several bad values, one line each", map[string]string{"BRIDGE_MAX_BODY": "lots", "BRIDGE_STORE": "s3", "BRIDGE_ROUTES": "a -> console\n*/* -> console"},
			"BRIDGE_MAX_BODY: \"lots\" is not a size; use a number of bytes with an optional unit, e.g. 32MiB\n" +
				"BRIDGE_STORE: \"s3\" is not a store; use bolt, postgres or memory\n" +
				"BRIDGE_ROUTES line 1: \"a\" has no \"/\" between project and environment; write e.g. a/* or */a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setEnv(t, tt.env)
			c, err := Load()
			if err == nil {
				t.Fatalf("Load() = %+v, want error %q", c, tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("Load() error\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestRouteCredentials(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"slack without token", map[string]string{"BRIDGE_ROUTES": "*/main -> console\n*/* -> slack:#deploys, slack:#deploys@compact"},
			`BRIDGE_ROUTES line 2: slack:#deploys needs BRIDGE_SLACK_TOKEN (or BRIDGE_SLACK_TOKEN_FILE); set it to your Slack bot token (xoxb-...)`},
		{"slack webhook not configured", map[string]string{"BRIDGE_ROUTES": "*/* -> slack-webhook:previews", "BRIDGE_SLACK_WEBHOOKS": "other=https://hooks.slack.com/x"},
			`BRIDGE_ROUTES line 1: slack-webhook:previews needs a webhook named "previews" in BRIDGE_SLACK_WEBHOOKS; add previews=https://hooks.slack.com/services/... to it`},
		{"discord webhook not configured", map[string]string{"BRIDGE_ROUTES": "*/* -> discord:prod"},
			`BRIDGE_ROUTES line 1: discord:prod needs a webhook named "prod" in BRIDGE_DISCORD_WEBHOOKS; add prod=https://discord.com/api/webhooks/ID/TOKEN to it`},
		{"discord channel without token", map[string]string{"BRIDGE_ROUTES": "*/* -> discord-channel:1234"},
			`BRIDGE_ROUTES line 1: discord-channel:1234 needs BRIDGE_DISCORD_TOKEN (or BRIDGE_DISCORD_TOKEN_FILE); set it to your Discord bot token`},
		{"a bad token is reported once", map[string]string{"BRIDGE_ROUTES": "*/* -> slack:#a", "BRIDGE_SLACK_TOKEN": "nope"},
			`BRIDGE_SLACK_TOKEN: is not a Slack bot token (those start with xoxb-); use the Bot User OAuth Token of your Slack app`},
		{"several targets", map[string]string{"BRIDGE_ROUTES": "*/* -> discord:a, discord:b", "BRIDGE_DISCORD_WEBHOOKS": "a=https://discord.com/api/webhooks/1/t"},
			`BRIDGE_ROUTES line 1: discord:b needs a webhook named "b" in BRIDGE_DISCORD_WEBHOOKS; add b=https://discord.com/api/webhooks/ID/TOKEN to it`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setEnv(t, tt.env)
			_, err := Load()
			if err == nil {
				t.Fatalf("Load() succeeded, want error %q", tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("Load() error\n got %s\nwant %s", got, tt.want)
			}
		})
	}

	t.Run("all configured", func(t *testing.T) {
		setEnv(t, map[string]string{
			"BRIDGE_ROUTES":           "*/* -> slack:#a, slack-webhook:b, discord:c, discord-channel:4, console",
			"BRIDGE_SLACK_TOKEN":      "xoxp-1",
			"BRIDGE_SLACK_WEBHOOKS":   "b=https://hooks.slack.com/x",
			"BRIDGE_DISCORD_WEBHOOKS": "c=https://discord.com/api/webhooks/1/t",
			"BRIDGE_DISCORD_TOKEN":    "t",
		})
		if _, err := Load(); err != nil {
			t.Errorf("Load() = %v, want no error", err)
		}
	})
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFileSecrets(t *testing.T) {
	t.Run("read and trimmed", func(t *testing.T) {
		setEnv(t, map[string]string{
			"BRIDGE_SHARED_KEY_FILE":       writeFile(t, "k", "s3cr3t-key\n"),
			"BRIDGE_PATH_TOKEN_FILE":       writeFile(t, "p", "0123456789abcdef\r\n"),
			"BRIDGE_SLACK_TOKEN_FILE":      writeFile(t, "s", "xoxb-from-file"),
			"BRIDGE_SLACK_WEBHOOKS_FILE":   writeFile(t, "sw", "a=https://hooks.slack.com/a\nb=https://hooks.slack.com/b\n"),
			"BRIDGE_DISCORD_WEBHOOKS_FILE": writeFile(t, "dw", "c=https://discord.com/api/webhooks/1/t\n"),
			"BRIDGE_DISCORD_TOKEN_FILE":    writeFile(t, "d", "discord.token\n"),
		})
		c, err := Load()
		if err != nil {
			t.Fatal(err)
		}
		got := []string{c.SharedKey.Value(), c.PathToken.Value(), c.SlackToken.Value(), c.SlackWebhooks["b"].Value(), c.DiscordWebhooks["c"].Value(), c.DiscordToken.Value()}
		want := []string{"s3cr3t-key", "0123456789abcdef", "xoxb-from-file", "https://hooks.slack.com/b", "https://discord.com/api/webhooks/1/t", "discord.token"}
		if !slices.Equal(got, want) {
			t.Errorf("secrets = %q, want %q", got, want)
		}
	})

	tests := []struct {
		name string
		env  func(t *testing.T) map[string]string
		want string
	}{
		{"both set", func(t *testing.T) map[string]string {
			return map[string]string{"BRIDGE_SLACK_TOKEN": "xoxb-a", "BRIDGE_SLACK_TOKEN_FILE": writeFile(t, "s", "xoxb-b")}
		}, "BRIDGE_SLACK_TOKEN and BRIDGE_SLACK_TOKEN_FILE are both set; set only one"},
		{"missing file", func(t *testing.T) map[string]string {
			return map[string]string{"BRIDGE_SHARED_KEY_FILE": "/nonexistent/key"}
		}, `BRIDGE_SHARED_KEY_FILE: cannot read "/nonexistent/key": no such file or directory; point it at a readable file holding the value of BRIDGE_SHARED_KEY`},
		{"a folder", func(t *testing.T) map[string]string {
			return map[string]string{"BRIDGE_DISCORD_TOKEN_FILE": "/"}
		}, `BRIDGE_DISCORD_TOKEN_FILE: cannot read "/": is a directory; point it at a readable file holding the value of BRIDGE_DISCORD_TOKEN`},
		{"empty file", func(t *testing.T) map[string]string {
			p := writeFile(t, "e", "\n")
			return map[string]string{"BRIDGE_PATH_TOKEN_FILE": p}
		}, `BRIDGE_PATH_TOKEN_FILE: "` + "%s" + `" is empty; put the value of BRIDGE_PATH_TOKEN in it`},
		{"bad hooks file", func(t *testing.T) map[string]string {
			return map[string]string{"BRIDGE_SLACK_WEBHOOKS_FILE": writeFile(t, "h", "a=https://hooks.slack.com/a\nhttps://hooks.slack.com/secret\n")}
		}, `BRIDGE_SLACK_WEBHOOKS_FILE: entry 2 has no name; use name=URL pairs separated by commas, e.g. deploys=https://hooks.slack.com/services/T000/B000/XXXX`},
		{"file secret still validated", func(t *testing.T) map[string]string {
			return map[string]string{"BRIDGE_SLACK_TOKEN_FILE": writeFile(t, "s", "not-a-token\n")}
		}, `BRIDGE_SLACK_TOKEN: is not a Slack bot token (those start with xoxb-); use the Bot User OAuth Token of your Slack app`},
		{"unreadable file satisfies no route", func(t *testing.T) map[string]string {
			return map[string]string{"BRIDGE_SLACK_TOKEN_FILE": "/nonexistent/t", "BRIDGE_ROUTES": "*/* -> slack:#a"}
		}, `BRIDGE_SLACK_TOKEN_FILE: cannot read "/nonexistent/t": no such file or directory; point it at a readable file holding the value of BRIDGE_SLACK_TOKEN`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := tt.env(t)
			setEnv(t, env)
			want := tt.want
			if strings.Contains(want, "%s") {
				want = fmt.Sprintf(want, env["BRIDGE_PATH_TOKEN_FILE"])
			}
			_, err := Load()
			if err == nil {
				t.Fatalf("Load() succeeded, want error %q", want)
			}
			if got := err.Error(); got != want {
				t.Errorf("Load() error\n got %s\nwant %s", got, want)
			}
		})
	}
}

// The secret values below carry the marker SEKRIT so that a leak is easy to spot.
func TestSecretsNeverShown(t *testing.T) {
	t.Run("in errors", func(t *testing.T) {
		setEnv(t, map[string]string{
			"BRIDGE_SLACK_TOKEN":      "SEKRIT-slack",
			"BRIDGE_DISCORD_TOKEN":    "Bot SEKRIT",
			"BRIDGE_PATH_TOKEN":       "SEKRIT/x",
			"BRIDGE_SHARED_KEY":       "SEKRIT key",
			"BRIDGE_SLACK_WEBHOOKS":   "a=https://hooks.slack.com/SEKRIT,https://SEKRIT.example/",
			"BRIDGE_DISCORD_WEBHOOKS": "p=https://SEKRIT.example/not-a-webhook",
			"BRIDGE_STORE":            "postgres",
			"BRIDGE_DATABASE_URL":     "postgres://u:SEKRIT@db:SEKRIT/x",
		})
		_, err := Load()
		if err == nil {
			t.Fatal("Load() succeeded, want errors")
		}
		if strings.Contains(err.Error(), "SEKRIT") {
			t.Errorf("error shows a secret:\n%s", err)
		}
		if n := strings.Count(err.Error(), "\n") + 1; n != 7 {
			t.Errorf("error has %d lines, want 7 (one per bad secret):\n%s", n, err)
		}
	})
	t.Run("in hooks parse errors", func(t *testing.T) {
		for _, v := range []string{"https://SEKRIT", "x=SEKRIT://y", "x=https://SEKRIT:%zz", "x=https:///SEKRIT", "x="} {
			var h Hooks
			err := h.Decode(v)
			if err == nil {
				t.Errorf("Decode(%q) succeeded, want error", v)
				continue
			}
			if strings.Contains(err.Error(), "SEKRIT") {
				t.Errorf("Decode error shows the URL: %s", err)
			}
		}
	})

	setEnv(t, map[string]string{
		"BRIDGE_SLACK_TOKEN":        "xoxb-SEKRIT",
		"BRIDGE_DISCORD_TOKEN":      "SEKRIT",
		"BRIDGE_PATH_TOKEN":         "SEKRIT0123456789",
		"BRIDGE_SHARED_KEY":         "SEKRIT",
		"BRIDGE_SLACK_WEBHOOKS":     "a=https://hooks.slack.com/SEKRIT",
		"BRIDGE_DISCORD_WEBHOOKS":   "p=https://discord.com/api/webhooks/1/SEKRIT",
		"BRIDGE_ROUTES":             "*/* -> slack:#a, discord:p",
		"BRIDGE_PUBLIC_CONSOLE_URL": "https://console.example",
	})
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	var zl bytes.Buffer
	zlog := zerolog.New(&zl)
	zlog.Info().Object("config", c).Interface("c", c).Stringer("tok", c.SlackToken).Msg("start")
	js, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{
		"%v":        fmt.Sprintf("%v", c),
		"%+v":       fmt.Sprintf("%+v", *c),
		"%#v":       fmt.Sprintf("%#v", *c),
		"%s":        fmt.Sprintf("%s", c.SlackToken),
		"%q":        fmt.Sprintf("%q", c.DiscordToken),
		"%x":        fmt.Sprintf("%x", c.SharedKey),
		"%d":        fmt.Sprintf("%d", c.PathToken),
		"hooks %#v": fmt.Sprintf("%#v", c.SlackWebhooks),
		"json":      string(js),
		"zerolog":   zl.String(),
		"Redacted":  fmt.Sprint(c.Redacted()),
	}
	for name, out := range outputs {
		if strings.Contains(out, "SEKRIT") || strings.Contains(out, hexOf("SEKRIT")) {
			t.Errorf("%s shows a secret: %s", name, out)
		}
	}
	r := c.Redacted()
	want := map[string]string{
		"BRIDGE_SLACK_TOKEN":        "[set]",
		"BRIDGE_SLACK_TOKEN_FILE":   "",
		"BRIDGE_DISCORD_TOKEN":      "[set]",
		"BRIDGE_SLACK_WEBHOOKS":     "a",
		"BRIDGE_DISCORD_WEBHOOKS":   "p",
		"BRIDGE_ROUTES":             "*/* -> slack:#a, discord:p",
		"BRIDGE_MAX_BODY":           "32MiB",
		"BRIDGE_MAX_AGE":            "24h0m0s",
		"BRIDGE_PUBLIC_CONSOLE_URL": "https://console.example",
		"BRIDGE_LISTEN":             ":8080",
	}
	for k, v := range want {
		if r[k] != v {
			t.Errorf("Redacted()[%s] = %q, want %q", k, r[k], v)
		}
	}
	if len(r) != len(Keys()) {
		t.Errorf("Redacted() has %d entries, want one per variable (%d)", len(r), len(Keys()))
	}
	if got := Secret("").String(); got != "" {
		t.Errorf("empty Secret prints %q, want empty", got)
	}
}

func hexOf(s string) string { return fmt.Sprintf("%x", []byte(s)) }

func TestSize(t *testing.T) {
	tests := []struct {
		in   string
		want Size
		str  string
	}{
		{"32MiB", 32 << 20, "32MiB"},
		{"512KiB", 512 << 10, "512KiB"},
		{"1GB", 1e9, "1GB"},
		{"1048576", 1 << 20, "1MiB"},
		{"1500", 1500, "1500B"},
		{"1500B", 1500, "1500B"},
		{"2 mib", 2 << 20, "2MiB"},
		{"64Mi", 64 << 20, "64MiB"},
		{"10k", 10000, "10KB"},
		{"0", 0, "0B"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var s Size
			if err := s.Decode(tt.in); err != nil {
				t.Fatal(err)
			}
			if s != tt.want {
				t.Errorf("Decode(%q) = %d, want %d", tt.in, s, tt.want)
			}
			if got := s.String(); got != tt.str {
				t.Errorf("String() = %q, want %q", got, tt.str)
			}
			var again Size
			if err := again.Decode(s.String()); err != nil || again != s {
				t.Errorf("Decode(String()) = %d, %v; want %d", again, err, s)
			}
		})
	}
	for _, bad := range []string{"", "MiB", "1.5MiB", "32XB", "-5", "99999999999999999999", "9999999999TiB"} {
		var s Size
		if err := s.Decode(bad); err == nil {
			t.Errorf("Decode(%q) = %d, want error", bad, s)
		}
	}
}

// envExampleNames returns the BRIDGE_* names assigned in .env.example (commented or not), and the
// values of the uncommented ones.
func envExample(t *testing.T) (names []string, active map[string]string) {
	t.Helper()
	f, err := os.Open("../../.env.example")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	active = map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		commented := strings.HasPrefix(line, "#")
		line = strings.TrimSpace(strings.TrimPrefix(line, "#"))
		k, v, ok := strings.Cut(line, "=")
		if !ok || !strings.HasPrefix(k, "BRIDGE_") || strings.ContainsAny(k, " \t") {
			continue
		}
		names = append(names, k)
		if !commented {
			active[k] = strings.Trim(v, `"`)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return names, active
}

func TestEnvExample(t *testing.T) {
	names, active := envExample(t)
	var want []string
	for _, k := range Keys() {
		want = append(want, k)
	}
	slices.Sort(names)
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf(".env.example names\n%v\nConfig reads\n%v", names, want)
	}
	if len(active) == 0 {
		t.Fatal(".env.example sets nothing; want a working example")
	}
	setEnv(t, active)
	if _, err := Load(); err != nil {
		t.Errorf("the values set in .env.example do not load:\n%v", err)
	}
}

func TestKeysMatchDesign(t *testing.T) {
	// The variable names are a contract (README.md, .env.example): a renamed field must not rename a variable.
	want := []string{
		"BRIDGE_LISTEN", "BRIDGE_SHARED_KEY", "BRIDGE_PATH_TOKEN", "BRIDGE_MAX_BODY", "BRIDGE_ROUTES",
		"BRIDGE_SLACK_TOKEN", "BRIDGE_SLACK_WEBHOOKS", "BRIDGE_DISCORD_WEBHOOKS", "BRIDGE_DISCORD_TOKEN",
		"BRIDGE_SLACK_API_URL", "BRIDGE_DISCORD_API_URL", "BRIDGE_TEMPLATES_DIR", "BRIDGE_STORE",
		"BRIDGE_DATA_DIR", "BRIDGE_MAX_AGE", "BRIDGE_ADMIN_LISTEN", "BRIDGE_LOG_LEVEL", "BRIDGE_LOG_FORMAT",
		"BRIDGE_PUBLIC_CONSOLE_URL", "BRIDGE_PROJECT_NAMES", "BRIDGE_REPOSITORIES", "BRIDGE_DATABASE_URL", "BRIDGE_LEASE",
		"BRIDGE_SHARED_KEY_FILE", "BRIDGE_PATH_TOKEN_FILE", "BRIDGE_SLACK_TOKEN_FILE",
		"BRIDGE_SLACK_WEBHOOKS_FILE", "BRIDGE_DISCORD_WEBHOOKS_FILE", "BRIDGE_DISCORD_TOKEN_FILE",
		"BRIDGE_DATABASE_URL_FILE",
	}
	var got []string
	for _, k := range Keys() {
		got = append(got, k)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("Keys() =\n%v\nwant\n%v", got, want)
	}
}

func TestUnknown(t *testing.T) {
	tests := []struct {
		name    string
		environ []string
		want    []string
	}{
		{"none", []string{"HOME=/root", "BRIDGE_LISTEN=:1", "BRIDGE_SLACK_TOKEN_FILE=/x"}, nil},
		{"misspelt", []string{"BRIDGE_SLACK_TOKN=xoxb-secret", "BRIDGE_ROUTE=x", "BRIDGE_ROUTES=y", "BRIDGE_ROUTE=z"}, []string{"BRIDGE_ROUTE", "BRIDGE_SLACK_TOKN"}},
		{"other prefixes are not ours", []string{"BRIDGEX=1", "MY_BRIDGE_X=2"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Unknown(tt.environ); !slices.Equal(got, tt.want) {
				t.Errorf("Unknown(%q) = %q, want %q", tt.environ, got, tt.want)
			}
		})
	}
}

func TestWarningsAndDataDirErrors(t *testing.T) {
	t.Setenv("BRIDGE_ROUTES", "*/* -> console")
	t.Setenv("BRIDGE_PUBLIC_CONSOLE_URL", "https://console.platform.sh, abcdefgh1234567=https://console.upsun.com/")
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if c.PublicConsoleURL != "https://console.platform.sh,abcdefgh1234567=https://console.upsun.com" {
		t.Errorf("PublicConsoleURL = %q", c.PublicConsoleURL)
	}
	w := c.Warnings([]string{"BRIDGE_ROUTE=x", "BRIDGE_ROUTES=*/* -> console", "HOME=/root"})
	if len(w) != 2 || !strings.Contains(w[0], "unknown variable BRIDGE_ROUTE is ignored") || !strings.Contains(w[1], "accepts unsigned requests") {
		t.Errorf("Warnings() = %q", w)
	}

	dir := filepath.Join(t.TempDir(), "file")
	os.WriteFile(dir, nil, 0o600)
	err = DataDirError(dir, &fs.PathError{Op: "mkdir", Path: dir, Err: syscall.ENOTDIR})
	want := "BRIDGE_DATA_DIR: cannot create the folder " + dir + ": not a directory; set BRIDGE_DATA_DIR to a folder the service can create and write, e.g. ./data"
	if err.Error() != want {
		t.Errorf("DataDirError() = %v\nwant %s", err, want)
	}
	if got := strings.Count(err.Error(), dir); got != 1 {
		t.Errorf("the path appears %d times", got)
	}
	locked := errors.New("outbox: x is locked by another process (is another activitybridge using the same BRIDGE_DATA_DIR?)")
	if DataDirError(dir, locked) != locked {
		t.Error("an error naming BRIDGE_DATA_DIR already is changed")
	}
}

func TestWarningsMentionWithoutTarget(t *testing.T) {
	t.Setenv("BRIDGE_SHARED_KEY", "k")
	t.Setenv("BRIDGE_SLACK_TOKEN", "xoxb-1")
	t.Setenv("BRIDGE_DISCORD_WEBHOOKS", "prod=https://discord.com/api/webhooks/1/x")
	t.Setenv("BRIDGE_ROUTES", "a/* mention=slack:U123 -> discord:prod\n"+
		"b/* mention=slack:U123,discord:112233445566778899 -> console\n"+
		"c/* mention=slack:U123,discord:112233445566778899 -> slack:#ops, discord:prod")
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"BRIDGE_ROUTES line 1: mention=slack:… never pings anyone: the rule has no slack target; add a slack target to the rule or drop its slack mentions",
		"BRIDGE_ROUTES line 2: mention=slack:… never pings anyone: the rule has no slack target; add a slack target to the rule or drop its slack mentions",
		"BRIDGE_ROUTES line 2: mention=discord:… never pings anyone: the rule has no discord target; add a discord target to the rule or drop its discord mentions",
	}
	if got := c.Warnings(nil); !slices.Equal(got, want) {
		t.Errorf("Warnings() =\n%q\nwant\n%q", got, want)
	}
}
