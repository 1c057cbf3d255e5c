package render

import (
	"fmt"
	"net/url"
	"strings"
)

// Repository builds links to the commits of one git repository (BRIDGE_REPOSITORIES). Links are made
// only of the configured base (or template) and hex SHAs: no text of a webhook body ever becomes part
// of a URL. The zero Repository builds no links.
type Repository struct {
	// Kind is github, gitlab, bitbucket, gitea or template.
	Kind string
	// Base is the repository's web URL without a trailing "/" (empty for a template).
	Base string
	// Commit and Compare are the URL templates: Commit holds {sha}, Compare {from} and {to} (empty
	// when the repository cannot compare).
	Commit, Compare string
}

// Repository kinds: the URL forms of each forge.
var repoKinds = map[string]struct{ commit, compare string }{
	// github.com and GitHub Enterprise.
	"github": {"/commit/{sha}", "/compare/{from}...{to}"},
	// gitlab.com and self-hosted GitLab: routes under /-/.
	"gitlab": {"/-/commit/{sha}", "/-/compare/{from}...{to}"},
	// Bitbucket Cloud: the compare page takes "<to>%0D<from>".
	"bitbucket": {"/commits/{sha}", "/branches/compare/{to}%0D{from}#diff"},
	// Gitea, Forgejo and Codeberg.
	"gitea": {"/commit/{sha}", "/compare/{from}...{to}"},
}

const repoHint = "use id=https://github.com/acme/shop, a gitlab:, bitbucket:, gitea: or github: prefix before the URL of a forge on another host (gitlab:https://git.example.com/acme/shop), or a URL template with {sha} (and |{from}/{to} for the compare page), e.g. https://git.example.com/shop/commit/{sha}|https://git.example.com/shop/diff/{from}..{to}"

// ParseRepository reads one BRIDGE_REPOSITORIES value: a repository URL whose host says the forge
// (github.com, gitlab.com or a host with "gitlab" in its name, bitbucket.org, codeberg.org, gitea.com
// or a host with "gitea" or "forgejo" in its name), the same with a kind prefix for any other host
// (gitlab:https://git.example.com/acme/shop; forgejo: is gitea:), or a template: a URL holding {sha},
// optionally followed by "|" and a compare URL holding {from} and {to}. The error says what a good
// value looks like.
func ParseRepository(spec string) (Repository, error) {
	spec = strings.TrimSpace(spec)
	if strings.Contains(spec, "{") {
		commit, compare, _ := strings.Cut(spec, "|")
		if err := checkTemplate(commit, "{sha}"); err != nil {
			return Repository{}, err
		}
		if compare != "" {
			if err := checkTemplate(compare, "{from}", "{to}"); err != nil {
				return Repository{}, err
			}
		}
		return Repository{Kind: "template", Commit: commit, Compare: compare}, nil
	}
	kind := ""
	if k, rest, ok := strings.Cut(spec, ":"); ok && !strings.HasPrefix(rest, "//") {
		kind, spec = strings.ToLower(k), rest
		if kind == "forgejo" {
			kind = "gitea"
		}
		if _, known := repoKinds[kind]; !known {
			return Repository{}, fmt.Errorf("unknown repository kind %q; %s", k, repoHint)
		}
	}
	u, err := url.Parse(spec)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" ||
		strings.ContainsAny(spec, " \t\n<>|\"'`") {
		return Repository{}, fmt.Errorf("%q is not a repository URL; %s", spec, repoHint)
	}
	base := strings.TrimSuffix(strings.TrimRight(u.Scheme+"://"+u.Host+u.EscapedPath(), "/"), ".git")
	if strings.Trim(u.Path, "/") == "" {
		return Repository{}, fmt.Errorf("%q names no repository (no path after the host); %s", spec, repoHint)
	}
	if kind == "" {
		kind = forgeOf(strings.ToLower(u.Hostname()))
		if kind == "" {
			return Repository{}, fmt.Errorf("the forge of %q is not known by its host; %s", spec, repoHint)
		}
	}
	forms := repoKinds[kind]
	return Repository{Kind: kind, Base: base, Commit: base + forms.commit, Compare: base + forms.compare}, nil
}

func forgeOf(host string) string {
	switch {
	case host == "github.com" || strings.HasPrefix(host, "github."):
		return "github"
	case host == "bitbucket.org":
		return "bitbucket"
	case host == "codeberg.org" || host == "gitea.com" || strings.Contains(host, "gitea") || strings.Contains(host, "forgejo"):
		return "gitea"
	case host == "gitlab.com" || strings.Contains(host, "gitlab"):
		return "gitlab"
	}
	return ""
}

// checkTemplate checks a URL template: an absolute http(s) URL once the placeholders are filled, with
// each of them.
func checkTemplate(tmpl string, placeholders ...string) error {
	filled := tmpl
	for _, p := range placeholders {
		if !strings.Contains(tmpl, p) {
			return fmt.Errorf("template %q has no %s; %s", tmpl, p, repoHint)
		}
		filled = strings.ReplaceAll(filled, p, "0123abc")
	}
	u, err := url.Parse(filled)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || strings.ContainsAny(filled, " \t\n<>|\"'`{}") {
		return fmt.Errorf("template %q is not an http(s) URL with only %s in braces; %s", tmpl, strings.Join(placeholders, " and "), repoHint)
	}
	return nil
}

// CommitURL returns the link to commit sha, or "" when sha is not a hex SHA (7 to 64 hex digits) or
// the repository has no commit form.
func (r Repository) CommitURL(sha string) string {
	if r.Commit == "" || !isHexSHA(sha) {
		return ""
	}
	return strings.ReplaceAll(r.Commit, "{sha}", strings.ToLower(sha))
}

// CompareURL returns the link to the changes from from to to, or "" when either is not a hex SHA, they
// are the same, or the repository cannot compare.
func (r Repository) CompareURL(from, to string) string {
	if r.Compare == "" || !isHexSHA(from) || !isHexSHA(to) || strings.EqualFold(from, to) {
		return ""
	}
	return strings.NewReplacer("{from}", strings.ToLower(from), "{to}", strings.ToLower(to)).Replace(r.Compare)
}

// isHexSHA reports whether s is an abbreviated or full git object name: 7 to 64 hex digits.
func isHexSHA(s string) bool {
	if len(s) < 7 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}
