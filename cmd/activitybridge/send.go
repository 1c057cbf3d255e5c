package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/activitybridge/activitybridge/internal/config"
	"github.com/activitybridge/activitybridge/internal/fixture/sample"
	"github.com/activitybridge/activitybridge/internal/jws"
	"github.com/activitybridge/activitybridge/render"
)

// sendCmd posts an activity to a running bridge the way Platform.sh does: signed with BRIDGE_SHARED_KEY
// and sent to the path token's URL when those are set. It prints the request and the answer.
func sendCmd(args []string, stdin io.Reader, stdout io.Writer) error {
	fs := newFlags("send", `activitybridge send [--url URL] [--id ID] [--project ID] [FILE | - | --sample NAME]
post an activity to a running bridge, as Platform.sh would: signed with BRIDGE_SHARED_KEY (or
BRIDGE_SHARED_KEY_FILE) and sent to /webhook/$BRIDGE_PATH_TOKEN when those are set; print the answer.
Without FILE it sends a small sample push; a sample gets a fresh activity id each time (so each send
is a new notice), a FILE keeps its own (so sending it twice is answered "reason":"duplicate").
Samples: `+strings.Join(sendSamples(), ", ")+`
(health and health-critical are health notifications of project abcdefgh1234567's main; their ID comes
from their content, which a fresh time makes new each time, so they take no --id)`)
	target := fs.String("url", "", "the bridge's webhook URL (default http://127.0.0.1:PORT/webhook, PORT from $BRIDGE_LISTEN, plus /$BRIDGE_PATH_TOKEN)")
	name := fs.String("sample", "", "send this embedded sample instead of a file (default "+sample.Default+")")
	id := fs.String("id", "", "set the activity id (e.g. to send several states of one activity)")
	project := fs.String("project", "", "set the project ID (the samples' is abcdefgh1234567), so that your routes pick it")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 1 || (fs.NArg() == 1 && *name != "") {
		return fmt.Errorf("%w: give one FILE or --sample NAME, not both", errUsage)
	}
	var body []byte
	what := fs.Arg(0)
	if fs.NArg() == 1 {
		b, err := readInput(fs.Arg(0), stdin)
		if err != nil {
			return err
		}
		body = b
	} else {
		if *name == "" {
			*name = sample.Default
		}
		what = "sample " + *name
		if severity, ok := healthSamples[*name]; ok {
			if *id != "" {
				return fmt.Errorf("%w: --id: a health notification has no id (it is derived from its content)", errUsage)
			}
			b, err := healthSample(severity, *project, time.Now())
			if err != nil {
				return fmt.Errorf("%s: %w", what, err)
			}
			body, *project = b, ""
		} else if b, ok := sample.Lookup(*name); ok {
			body = b
			if *id == "" {
				*id = fmt.Sprintf("send-%d", time.Now().UnixNano())
			}
		} else {
			return fmt.Errorf("%w: no sample %q; use one of %s", errUsage, *name, strings.Join(sendSamples(), ", "))
		}
	}
	if *id != "" || *project != "" {
		b, err := withFields(body, map[string]string{"id": *id, "project": *project})
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		body = b
	}

	key, err := config.ReadSecret("BRIDGE_SHARED_KEY")
	if err != nil {
		return err
	}
	token, err := config.ReadSecret("BRIDGE_PATH_TOKEN")
	if err != nil {
		return err
	}
	u, err := webhookURL(*target, os.Getenv("BRIDGE_LISTEN"), token)
	if err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: --url %q: %v", errUsage, *target, err)
	}
	req.Header.Set("Content-Type", "application/json")
	how := "unsigned (BRIDGE_SHARED_KEY is not set)"
	if key != "" {
		req.Header.Set(jws.Header, jws.Sign(body, key))
		how = "signed with BRIDGE_SHARED_KEY"
	}
	fmt.Fprintf(stdout, "POST %s  %s, %d bytes, %s\n", redactToken(u, token), what, len(body), how)
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the bridge at %s (is it running? set --url): %v", redactToken(u, token), redactErr(err, u, token))
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	fmt.Fprintf(stdout, "%s %s\n", resp.Status, strings.TrimSpace(string(answer)))
	switch {
	case resp.StatusCode == http.StatusUnauthorized && key == "":
		return fmt.Errorf("the bridge refused the activity: %s; it wants a signature: set BRIDGE_SHARED_KEY (and BRIDGE_PATH_TOKEN, if it has one) as the bridge has them", resp.Status)
	case resp.StatusCode == http.StatusUnauthorized:
		return fmt.Errorf("the bridge refused the activity: %s; BRIDGE_SHARED_KEY or BRIDGE_PATH_TOKEN differs from the bridge's", resp.Status)
	case resp.StatusCode/100 != 2:
		return fmt.Errorf("the bridge refused the activity: %s", resp.Status)
	}
	return nil
}

// healthSamples are the health notifications send offers, by sample name: their severity.
var healthSamples = map[string]string{"health": "warning", "health-critical": "critical"}

// sendSamples lists the samples send offers: the activities, then the health notifications.
func sendSamples() []string { return append(sample.Names(), "health", "health-critical") }

// healthSample returns the documentation's health notification (render.HealthSample) with severity, as
// if about the main environment of project (default: the activity samples' abcdefgh1234567, so that the
// same routes pick it), noticed at now: a new time is a new notification (its ID is derived from it).
func healthSample(severity, project string, now time.Time) ([]byte, error) {
	if project == "" {
		project = "abcdefgh1234567"
	}
	var n map[string]any
	if err := json.Unmarshal([]byte(render.HealthSample), &n); err != nil {
		return nil, err
	}
	p, _ := n["project"].(map[string]any)
	ev, _ := n["event"].(map[string]any)
	origin, _ := ev["origin"].(map[string]any)
	if p == nil || origin == nil {
		return nil, errors.New("the health sample has no project or event.origin object")
	}
	p["id"], origin["project"], origin["environment"] = project, project, "main-bvxea6i"
	delete(p, "title") // like the activity samples: the header shows the ID, or BRIDGE_PROJECT_NAMES' title
	ev["severity"], ev["time"] = severity, now.UTC().Format(time.RFC3339Nano)
	return json.Marshal(n)
}

// withFields returns the JSON object body with the top-level string members of set (those not empty)
// replaced.
func withFields(body []byte, set map[string]string) ([]byte, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil {
		return nil, fmt.Errorf("cannot set its id or project: %w", err)
	}
	for k, v := range set {
		if v != "" {
			obj[k], _ = json.Marshal(v)
		}
	}
	return json.Marshal(obj)
}

// webhookURL is --url, or the local address of BRIDGE_LISTEN; with a path token, a URL whose path is
// /webhook (or empty) gets /<token> added.
func webhookURL(flagURL, listen, token string) (string, error) {
	if flagURL == "" {
		port := "8080"
		if listen != "" {
			_, p, err := net.SplitHostPort(listen)
			if err != nil {
				return "", fmt.Errorf("BRIDGE_LISTEN %q: %v; or give --url", listen, err)
			}
			port = p
		}
		flagURL = "http://127.0.0.1:" + port + "/webhook"
	}
	u, err := url.Parse(flagURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%w: --url %q is not an http(s) URL; e.g. --url http://127.0.0.1:8080/webhook", errUsage, flagURL)
	}
	if token != "" && (u.Path == "" || u.Path == "/" || strings.TrimSuffix(u.Path, "/") == "/webhook") {
		u.Path = "/webhook/" + token
	} else if u.Path == "" || u.Path == "/" {
		u.Path = "/webhook"
	}
	return u.String(), nil
}

// redactToken hides the path token in what is printed: it is a secret.
func redactToken(u, token string) string {
	if token == "" {
		return u
	}
	return strings.ReplaceAll(u, token, "{BRIDGE_PATH_TOKEN}")
}

func redactErr(err error, u, token string) string {
	return strings.ReplaceAll(strings.ReplaceAll(err.Error(), u, redactToken(u, token)), token, "{BRIDGE_PATH_TOKEN}")
}
