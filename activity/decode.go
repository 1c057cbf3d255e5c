package activity

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// ErrNotActivity is matched (errors.Is) by every error Decode returns: the body is not a Platform.sh
// activity, which the HTTP layer answers with 400. The error's message says what is wrong.
var ErrNotActivity = errors.New("not an activity")

// DecodeError is the error Decode returns. Field names the offending JSON field by its path of
// object keys ("type", "payload.commits.message": array indexes are not part of it), or is empty when
// the body as a whole is wrong (empty, not JSON, not an object, data after the object).
type DecodeError struct {
	Field  string
	Reason string
}

// Error says what is wrong, starting with "not an activity: ".
func (e *DecodeError) Error() string {
	if e.Field == "" {
		return "not an activity: " + e.Reason
	}
	return fmt.Sprintf("not an activity: field %q: %s", e.Field, e.Reason)
}

// Is makes every DecodeError match ErrNotActivity.
func (e *DecodeError) Is(target error) bool { return target == ErrNotActivity }

// Decode decodes the JSON body of an activity webhook. It returns a *DecodeError (matching
// ErrNotActivity) when the body is not JSON, not a JSON object, has data after the object, lacks a
// non-empty id, type or project, has a top-level field we keep with the wrong JSON type, has invalid
// UTF-8 in a string we keep, or has an id, state or name no activity has (see validate). Inside parameters and payload, whose shapes differ by activity
// type, a kept field of an unexpected JSON type is ignored instead. Deployment variables, http_access,
// the log and the project's SSH key are never decoded (the structs below have no field for them).
//
// Decoding takes two steps. prune (prune.go) validates the whole body in one pass and copies out only
// the members the wire structs have, testing string bytes 16 at a time; then
// github.com/go-json-experiment/json (encoding/json/v2) unmarshals that reduced document. Alone, v2
// scans strings a byte at a time: on the ~1.3 MB push-big, 1 MiB of it a log, it took 1.19 ms, more
// than half of it in the log; the two steps take 0.68 ms (0.31 ms pruning to 38 KB, the rest v2; see
// BENCHMARKS.md). A body that is not JSON is unmarshaled whole instead, so that its error is the one v2
// has always reported.
func Decode(body []byte) (*Activity, error) {
	if err := checkObject(body); err != nil {
		return nil, err
	}
	var w wireActivity
	buf := reducedBufs.Get().(*[]byte)
	reduced, err := prune(body, (*buf)[:0])
	if err == nil {
		err = json.Unmarshal(reduced, &w, decodeOptions)
	} else {
		// v2 stops at the first error in the body, and a kept field of the wrong type may come
		// before the syntax error prune found: decoding the whole body reports what it always did.
		err = json.Unmarshal(body, &w, decodeOptions)
	}
	if err != nil {
		err = decodeError(err) // copies what it says out of reduced before the buffer is reused
	}
	if cap(reduced) <= maxPooledBuf {
		*buf = reduced
		reducedBufs.Put(buf)
	}
	if err != nil {
		return nil, err
	}
	return w.result()
}

// checkObject returns the DecodeError for a body that is empty or not a JSON object, else nil.
func checkObject(body []byte) error {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 {
		return &DecodeError{Reason: "empty body"}
	}
	if kind := jsonKind(trimmed[0]); kind != "object" {
		if kind == "" || !jsontext.Value(body).IsValid(jsontext.AllowInvalidUTF8(true)) {
			return &DecodeError{Reason: "body is not JSON"}
		}
		return &DecodeError{Reason: "body is a JSON " + kind + ", want an object"}
	}
	return nil
}

// result is the decoded activity, or the error for a missing id, type or project, or a value the
// outbox could never key on (see validate).
func (w *wireActivity) result() (*Activity, error) {
	for _, f := range []struct{ name, value string }{{"id", w.ID.s}, {"type", w.Type.s}, {"project", w.Project.s}} {
		if f.value == "" {
			return nil, &DecodeError{Field: f.name, Reason: "missing or empty"}
		}
	}
	if err := w.validate(); err != nil {
		return nil, err
	}
	return w.activity(), nil
}

// validate refuses what the outbox keys on and the logs carry when no Platform.sh activity could have
// it: an id over MaxIDLength bytes or outside printable ASCII, a state that is not one of States (no
// state at all is accepted, as before), a type, project or environment name over MaxNameLength bytes. The error names the field and never
// repeats a long value.
func (w *wireActivity) validate() error {
	id := w.ID.s
	if len(id) > MaxIDLength {
		return &DecodeError{Field: "id", Reason: fmt.Sprintf("%d bytes long, want at most %d", len(id), MaxIDLength)}
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x20 || id[i] > 0x7e {
			return &DecodeError{Field: "id", Reason: fmt.Sprintf("byte %d is 0x%02x, want printable ASCII", i, id[i])}
		}
	}
	if st := State(w.State.s); st != "" && !st.Known() {
		return &DecodeError{Field: "state", Reason: fmt.Sprintf("want one of %s, got %s", joinStates(), quoteShort(w.State.s))}
	}
	names := []struct{ field, value string }{{"type", w.Type.s}, {"project", w.Project.s}}
	for i, e := range w.Environments {
		names = append(names, struct{ field, value string }{fmt.Sprintf("environments.%d", i), e.s})
	}
	if p := w.Parameters; p != nil {
		names = append(names, struct{ field, value string }{"parameters.environment", p.Environment.s})
	}
	if p := w.Payload; p != nil && p.Environment != nil {
		names = append(names, struct{ field, value string }{"payload.environment.name", p.Environment.Name.s})
	}
	for _, n := range names {
		if len(n.value) > MaxNameLength {
			return &DecodeError{Field: n.field, Reason: fmt.Sprintf("%d bytes long, want at most %d", len(n.value), MaxNameLength)}
		}
	}
	return nil
}

func joinStates() string {
	out := make([]string, len(States))
	for i, s := range States {
		out[i] = string(s)
	}
	return strings.Join(out, ", ")
}

// jsonKind names the JSON value that starts with b, or "" when no JSON value starts so.
func jsonKind(b byte) string {
	switch {
	case b == '{':
		return "object"
	case b == '[':
		return "array"
	case b == '"':
		return "string"
	case b == '-' || (b >= '0' && b <= '9'):
		return "number"
	case b == 't' || b == 'f':
		return "boolean"
	case b == 'n':
		return "null"
	}
	return ""
}

// reducedBufs holds buffers for prune's reduced documents. Nothing decoded keeps a reference into
// one: the wire types copy every string they keep.
var reducedBufs = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledBuf is the largest buffer reducedBufs keeps, so that one huge body does not pin its
// reduced copy; push-big's is about 40 KB.
const maxPooledBuf = 1 << 20

// decodeOptions keep encoding/json's leniency where Platform.sh bodies need it: invalid UTF-8 is
// checked only in the strings we keep (unquote), and a repeated member name keeps the last value
// (prune keeps every repeat). Unknown members (the log, deployment variables ...) never reach v2:
// prune validates and drops them (v2 skips them in a body that is not JSON). Member names match
// exactly. Nesting is limited to 10000 levels, here and in prune, so a deeply nested body is an
// error, not a stack overflow.
var decodeOptions = json.JoinOptions(jsontext.AllowInvalidUTF8(true), jsontext.AllowDuplicateNames(true))

// decodeError turns a JSON decoding error into a DecodeError.
func decodeError(err error) error {
	var se *json.SemanticError
	if errors.As(err, &se) {
		field := fieldName(se.JSONPointer)
		if ve := (*valueError)(nil); errors.As(se.Err, &ve) {
			return &DecodeError{Field: field, Reason: ve.reason}
		}
		got := kindName(se.JSONKind)
		if se.JSONKind == '0' && len(se.JSONValue) > 0 {
			got += " " + quoteShort(string(se.JSONValue))
		}
		return &DecodeError{Field: field, Reason: fmt.Sprintf("want %s, got %s", wantKind(se.GoType), got)}
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return &DecodeError{Reason: "invalid JSON: unexpected end of JSON input"}
	}
	var syn *jsontext.SyntacticError
	if errors.As(err, &syn) {
		return &DecodeError{Reason: fmt.Sprintf("invalid JSON at byte %d: %v", syn.ByteOffset, syn.Err)}
	}
	return &DecodeError{Reason: "invalid JSON: " + strings.TrimPrefix(err.Error(), "json: ")}
}

// fieldName turns a JSON pointer ("/payload/commits/3/message") into a DecodeError field path
// ("payload.commits.3.message").
func fieldName(p jsontext.Pointer) string {
	var parts []string
	for tok := range p.Tokens() {
		parts = append(parts, tok)
	}
	return strings.Join(parts, ".")
}

// kindName names a JSON kind the way error messages say it.
func kindName(k jsontext.Kind) string {
	switch k {
	case '"':
		return "string"
	case '0':
		return "number"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "another type"
}

// valueError is what the field types' UnmarshalJSON methods return; Decode adds the field's path.
type valueError struct{ reason string }

func (e *valueError) Error() string { return e.reason }

func typeError(want string, raw []byte) error {
	return &valueError{reason: "want " + want + ", got " + jsonKind(raw[0])}
}

func wantKind(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	if t == reflect.TypeFor[time.Time]() {
		return "an RFC 3339 time string"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Int, reflect.Int64, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "a boolean"
	}
	return t.String()
}

// unquote returns the string value of the JSON string literal raw (quotes included), rejecting
// invalid UTF-8. Most strings have no escapes and cost one allocation.
func unquote(raw []byte) (string, error) {
	if !utf8.Valid(raw) {
		return "", &valueError{reason: "invalid UTF-8 in string"}
	}
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return string(inner), nil
	}
	var s string
	// Lone surrogates become U+FFFD, as encoding/json does.
	if err := json.Unmarshal(raw, &s, jsontext.AllowInvalidUTF8(true)); err != nil {
		return "", err
	}
	return s, nil
}

// str is a string field of the top level: null is "", another JSON type is an error.
type str struct{ s string }

func (v *str) UnmarshalJSON(raw []byte) error {
	switch raw[0] {
	case 'n':
		v.s = ""
		return nil
	case '"':
		s, err := unquote(raw)
		v.s = s
		return err
	}
	return typeError("a string", raw)
}

// lstr is a lenient string field inside parameters or payload: a value of another JSON type is
// ignored, invalid UTF-8 is still an error.
type lstr struct{ s string }

func (v *lstr) UnmarshalJSON(raw []byte) error {
	if raw[0] != '"' {
		v.s = ""
		return nil
	}
	s, err := unquote(raw)
	v.s = s
	return err
}

// lbool is a lenient boolean: anything but true is false.
type lbool bool

func (v *lbool) UnmarshalJSON(raw []byte) error {
	*v = lbool(raw[0] == 't')
	return nil
}

// lint is a lenient integer: a number is truncated toward zero, anything else is 0.
type lint int

func (v *lint) UnmarshalJSON(raw []byte) error {
	*v = 0
	if k := jsonKind(raw[0]); k == "number" {
		if f, err := strconv.ParseFloat(string(raw), 64); err == nil && f > -1e15 && f < 1e15 {
			*v = lint(f)
		}
	}
	return nil
}

// stamp is a timestamp of the top level: RFC 3339 (Platform.sh sends microseconds and +00:00), null
// is the zero time, another JSON type or an unreadable string is an error.
type stamp struct{ t time.Time }

func (v *stamp) UnmarshalJSON(raw []byte) error {
	switch raw[0] {
	case 'n':
		v.t = time.Time{}
		return nil
	case '"':
		s, err := unquote(raw)
		if err != nil {
			return err
		}
		t, ok := parseTime(s)
		if !ok {
			return &valueError{reason: "want an RFC 3339 time string, got string " + quoteShort(s)}
		}
		v.t = t
		return nil
	}
	return typeError("an RFC 3339 time string", raw)
}

// lstamp is a lenient timestamp inside the payload: a unix time in seconds (2023 commit dates), an
// RFC 3339 string, or anything else as the zero time.
type lstamp struct{ t time.Time }

func (v *lstamp) UnmarshalJSON(raw []byte) error {
	v.t = time.Time{}
	switch jsonKind(raw[0]) {
	case "number":
		if f, err := strconv.ParseFloat(string(raw), 64); err == nil && f > 0 && f < 1e11 {
			sec := int64(f)
			v.t = time.Unix(sec, int64((f-float64(sec))*1e9)).UTC()
		}
	case "string":
		s, err := unquote(raw)
		if err != nil {
			return err
		}
		if t, ok := parseTime(s); ok {
			v.t = t
		}
	}
	return nil
}

func parseTime(s string) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), true
	}
	// Some older bodies omit the zone; Platform.sh times are UTC.
	if t, err := time.Parse("2006-01-02T15:04:05.999999999", s); err == nil {
		return t, true
	}
	return time.Time{}, false
}

func quoteShort(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return fmt.Sprintf("%q", s)
}

// The wire types hold only the fields we keep; the decoder scans past every other key without
// building anything for it.
type wireActivity struct {
	ID                str                `json:"id"`
	Type              str                `json:"type"`
	Project           str                `json:"project"`
	State             str                `json:"state"`
	Result            str                `json:"result"`
	Environments      []str              `json:"environments"`
	CreatedAt         stamp              `json:"created_at"`
	UpdatedAt         stamp              `json:"updated_at"`
	StartedAt         stamp              `json:"started_at"`
	CompletedAt       stamp              `json:"completed_at"`
	CancelledAt       stamp              `json:"cancelled_at"`
	CompletionPercent *int               `json:"completion_percent"`
	Timings           map[string]float64 `json:"timings"`
	Text              str                `json:"text"`
	Description       str                `json:"description"`
	Parameters        *wireParameters    `json:"parameters"`
	Payload           *wirePayload       `json:"payload"`
	Commands          []wireCommand      `json:"commands"`
	FailureReason     str                `json:"failure_reason"`
}

type wireParameters struct {
	User            lstr  `json:"user"`
	Environment     lstr  `json:"environment"`
	OldCommit       lstr  `json:"old_commit"`
	NewCommit       lstr  `json:"new_commit"`
	From            lstr  `json:"from"`
	Into            lstr  `json:"into"`
	Cron            lstr  `json:"cron"`
	Application     lstr  `json:"application"`
	SynchronizeCode lbool `json:"synchronize_code"`
	SynchronizeData lbool `json:"synchronize_data"`
}

type wirePayload struct {
	User         *wireUser        `json:"user"`
	Environment  *wireEnvironment `json:"environment"`
	Commits      []wireCommit     `json:"commits"`
	CommitsCount lint             `json:"commits_count"`
	Deployment   *wireDeployment  `json:"deployment"`
	Project      *wireProject     `json:"project"`
	Cron         lstr             `json:"cron"`
	BackupName   lstr             `json:"backup_name"`
	Variable     *wireNamed       `json:"variable"`
	Domain       *wireNamed       `json:"domain"`
}

type wireUser struct {
	ID          lstr `json:"id"`
	DisplayName lstr `json:"display_name"`
}

type wireEnvironment struct {
	Name          lstr  `json:"name"`
	MachineName   lstr  `json:"machine_name"`
	Title         lstr  `json:"title"`
	Type          lstr  `json:"type"`
	Status        lstr  `json:"status"`
	HeadCommit    lstr  `json:"head_commit"`
	EdgeHostname  lstr  `json:"edge_hostname"`
	DefaultDomain lstr  `json:"default_domain"`
	Parent        lstr  `json:"parent"`
	IsMain        lbool `json:"is_main"`
}

type wireCommit struct {
	SHA     lstr `json:"sha"`
	Message lstr `json:"message"`
	Author  struct {
		Name  lstr   `json:"name"`
		Email lstr   `json:"email"`
		Date  lstamp `json:"date"`
	} `json:"author"`
}

type wireDeployment struct {
	ProjectInfo struct {
		Name lstr `json:"name"`
	} `json:"project_info"`
	EnvironmentInfo struct {
		EnvironmentType lstr `json:"environment_type"`
	} `json:"environment_info"`
	Subscription wireSubscription     `json:"subscription"`
	Routes       map[string]wireRoute `json:"routes"`
}

type wireSubscription struct {
	ManagementURI lstr `json:"subscription_management_uri"`
}

type wireRoute struct {
	Type        lstr  `json:"type"`
	Upstream    lstr  `json:"upstream"`
	To          lstr  `json:"to"`
	OriginalURL lstr  `json:"original_url"`
	Primary     lbool `json:"primary"`
}

type wireProject struct {
	ID            lstr             `json:"id"`
	Title         lstr             `json:"title"`
	Region        lstr             `json:"region"`
	Organization  lstr             `json:"organization"`
	DefaultDomain lstr             `json:"default_domain"`
	Subscription  wireSubscription `json:"subscription"`
}

type wireNamed struct {
	Name lstr `json:"name"`
}

type wireCommand struct {
	App      lstr `json:"app"`
	Type     lstr `json:"type"`
	ExitCode lint `json:"exit_code"`
}

func (w *wireActivity) activity() *Activity {
	a := &Activity{
		ID:            w.ID.s,
		Type:          w.Type.s,
		Project:       w.Project.s,
		State:         State(w.State.s),
		Result:        Result(w.Result.s),
		CreatedAt:     w.CreatedAt.t,
		UpdatedAt:     w.UpdatedAt.t,
		StartedAt:     w.StartedAt.t,
		CompletedAt:   w.CompletedAt.t,
		CancelledAt:   w.CancelledAt.t,
		Timings:       w.Timings,
		Text:          w.Text.s,
		Description:   w.Description.s,
		FailureReason: w.FailureReason.s,
	}
	if w.CompletionPercent != nil {
		a.CompletionPercent = *w.CompletionPercent
	}
	for _, e := range w.Environments {
		a.Environments = append(a.Environments, e.s)
	}
	for _, c := range w.Commands {
		a.Commands = append(a.Commands, Command{App: c.App.s, Type: c.Type.s, ExitCode: int(c.ExitCode)})
	}
	if p := w.Parameters; p != nil {
		a.Parameters = Parameters{
			User: p.User.s, Environment: p.Environment.s, OldCommit: p.OldCommit.s, NewCommit: p.NewCommit.s,
			From: p.From.s, Into: p.Into.s, Cron: p.Cron.s, Application: p.Application.s,
			SynchronizeCode: bool(p.SynchronizeCode), SynchronizeData: bool(p.SynchronizeData),
		}
	}
	if p := w.Payload; p != nil {
		a.Payload = p.payload()
		a.consoleOrg = orgSlug(p)
	}
	return a
}

func (p *wirePayload) payload() Payload {
	out := Payload{
		CommitsCount: int(p.CommitsCount),
		Cron:         p.Cron.s,
		BackupName:   p.BackupName.s,
	}
	if u := p.User; u != nil {
		out.User = User{ID: u.ID.s, DisplayName: u.DisplayName.s}
	}
	if e := p.Environment; e != nil {
		out.Environment = &Environment{
			Name: e.Name.s, MachineName: e.MachineName.s, Title: e.Title.s, Type: e.Type.s, Status: e.Status.s,
			HeadCommit: e.HeadCommit.s, EdgeHostname: e.EdgeHostname.s, DefaultDomain: e.DefaultDomain.s,
			Parent: e.Parent.s, IsMain: bool(e.IsMain),
		}
	}
	if len(p.Commits) > 0 {
		out.Commits = make([]Commit, len(p.Commits))
		for i, c := range p.Commits {
			out.Commits[i] = Commit{SHA: c.SHA.s, Message: c.Message.s,
				Author: Author{Name: c.Author.Name.s, Email: c.Author.Email.s, Date: c.Author.Date.t}}
		}
	}
	if d := p.Deployment; d != nil {
		dep := &Deployment{ProjectTitle: d.ProjectInfo.Name.s, EnvironmentType: d.EnvironmentInfo.EnvironmentType.s}
		if len(d.Routes) > 0 {
			dep.Routes = make([]Route, 0, len(d.Routes))
			for u, r := range d.Routes {
				dep.Routes = append(dep.Routes, Route{URL: u, Type: r.Type.s, Upstream: r.Upstream.s, To: r.To.s,
					OriginalURL: r.OriginalURL.s, Primary: bool(r.Primary)})
			}
			sortRoutes(dep.Routes)
		}
		out.Deployment = dep
	}
	if pr := p.Project; pr != nil {
		out.Project = &Project{ID: pr.ID.s, Title: pr.Title.s, Region: pr.Region.s, Organization: pr.Organization.s,
			DefaultDomain: pr.DefaultDomain.s}
	}
	if v := p.Variable; v != nil {
		out.Variable = &Named{Name: v.Name.s}
	}
	if d := p.Domain; d != nil {
		out.Domain = &Named{Name: d.Name.s}
	}
	return out
}

// orgSlug finds the organization's URL name in a subscription_management_uri of the form
// https://console.upsun.com/<org>/-/billing/...; the Platform.sh form /-/users/<id>/... has none.
func orgSlug(p *wirePayload) string {
	var uri string
	if p.Project != nil {
		uri = p.Project.Subscription.ManagementURI.s
	}
	if uri == "" && p.Deployment != nil {
		uri = p.Deployment.Subscription.ManagementURI.s
	}
	u, err := url.Parse(uri)
	if err != nil || u.Host == "" {
		return ""
	}
	first, _, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
	if first == "" || first == "-" || first == "projects" {
		return ""
	}
	return u.Host + "\x00" + first
}
