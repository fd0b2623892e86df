package sources

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// Event is what a verified webhook says: which repository moved, and
// where. It is a reason to sync, not evidence.
type Event struct {
	Provider  string   // github | gitlab
	Kind      string   // push | pull_request | ping | other
	Project   string   // owner/name (GitHub), the project's path (GitLab)
	CloneURLs []string // the URLs the repository is known by, to find it among those watched
	Branch    string   // push: the branch pushed ("" for a tag); pull_request: the base branch
	After     string   // push: the new head commit
	Delivery  string   // the forge's delivery id (X-GitHub-Delivery, X-Gitlab-Event-UUID)
}

// The kinds of Event.
const (
	KindPush        = "push"
	KindPullRequest = "pull_request"
	KindPing        = "ping"
	KindOther       = "other"
)

// ErrSignature is the error of a webhook whose signature or token is
// missing or wrong: it did not come from the forge.
var ErrSignature = errors.New("webhook signature does not match")

// repo is the repository as both forges' payloads describe it.
type repo struct {
	FullName          string `json:"full_name"`           // GitHub
	PathWithNamespace string `json:"path_with_namespace"` // GitLab
	CloneURL          string `json:"clone_url"`
	SSHURL            string `json:"ssh_url"`
	HTMLURL           string `json:"html_url"`
	GitHTTPURL        string `json:"git_http_url"`
	GitSSHURL         string `json:"git_ssh_url"`
	WebURL            string `json:"web_url"`
}

func (r *repo) urls() []string {
	var out []string
	for _, u := range []string{r.CloneURL, r.SSHURL, r.HTMLURL, r.GitHTTPURL, r.GitSSHURL, r.WebURL} {
		if u != "" && !slices.Contains(out, u) {
			out = append(out, u)
		}
	}
	return out
}

// ParseGitHub verifies a GitHub webhook's X-Hub-Signature-256 (HMAC-SHA256
// of the body with secret) and parses it.
func ParseGitHub(header http.Header, body []byte, secret []byte) (Event, error) {
	if len(secret) == 0 {
		// An empty key is one anybody can sign with.
		return Event{}, fmt.Errorf("github webhook: no secret configured: %w", ErrSignature)
	}
	sig, ok := strings.CutPrefix(header.Get("X-Hub-Signature-256"), "sha256=")
	if !ok {
		return Event{}, fmt.Errorf("github webhook: no X-Hub-Signature-256 header: %w", ErrSignature)
	}
	got, err := hex.DecodeString(sig)
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	if err != nil || !hmac.Equal(got, mac.Sum(nil)) {
		return Event{}, fmt.Errorf("github webhook: %w", ErrSignature)
	}
	ev := Event{Provider: "github", Delivery: header.Get("X-GitHub-Delivery")}
	name := header.Get("X-GitHub-Event")
	if name == "" {
		return Event{}, errors.New("github webhook: no X-GitHub-Event header")
	}
	var p struct {
		Ref         string `json:"ref"`
		After       string `json:"after"`
		Repository  *repo  `json:"repository"`
		PullRequest *struct {
			Base struct {
				Ref string `json:"ref"`
			} `json:"base"`
		} `json:"pull_request"`
	}
	if err := decode(body, &p); err != nil {
		return Event{}, fmt.Errorf("github %s webhook: %w", name, err)
	}
	switch name {
	case "push":
		ev.Kind, ev.After = KindPush, p.After
		ev.Branch, err = pushedBranch(p.Ref)
	case "pull_request":
		ev.Kind = KindPullRequest
		if p.PullRequest == nil {
			err = errors.New("pull_request is missing")
		} else {
			ev.Branch = p.PullRequest.Base.Ref
		}
	case "ping":
		ev.Kind = KindPing
	default:
		ev.Kind = KindOther
	}
	if err == nil && p.Repository != nil {
		ev.Project, ev.CloneURLs = p.Repository.FullName, p.Repository.urls()
	}
	if err == nil && ev.Project == "" && (ev.Kind == KindPush || ev.Kind == KindPullRequest) {
		err = errors.New("repository.full_name is missing")
	}
	if err != nil {
		return Event{}, fmt.Errorf("github %s webhook: %w", name, err)
	}
	return ev, nil
}

// ParseGitLab verifies a GitLab webhook's X-Gitlab-Token (the secret token
// set on the hook) and parses it.
func ParseGitLab(header http.Header, body []byte, secret []byte) (Event, error) {
	if len(secret) == 0 {
		return Event{}, fmt.Errorf("gitlab webhook: no secret token configured: %w", ErrSignature)
	}
	tok := header.Get("X-Gitlab-Token")
	if tok == "" {
		return Event{}, fmt.Errorf("gitlab webhook: no X-Gitlab-Token header: %w", ErrSignature)
	}
	if subtle.ConstantTimeCompare([]byte(tok), secret) != 1 {
		return Event{}, fmt.Errorf("gitlab webhook: %w", ErrSignature)
	}
	ev := Event{Provider: "gitlab", Delivery: header.Get("X-Gitlab-Event-UUID")}
	name := header.Get("X-Gitlab-Event")
	if name == "" {
		return Event{}, errors.New("gitlab webhook: no X-Gitlab-Event header")
	}
	var p struct {
		ObjectKind       string `json:"object_kind"`
		Ref              string `json:"ref"`
		After            string `json:"after"`
		Project          *repo  `json:"project"`
		ObjectAttributes *struct {
			TargetBranch string `json:"target_branch"`
		} `json:"object_attributes"`
	}
	if err := decode(body, &p); err != nil {
		return Event{}, fmt.Errorf("gitlab %s: %w", name, err)
	}
	kind := map[string]string{"Push Hook": "push", "Tag Push Hook": "tag_push", "Merge Request Hook": "merge_request"}[name]
	if name == "System Hook" {
		kind = p.ObjectKind // a system hook says what it is in its body
	}
	var err error
	switch kind {
	case "push", "tag_push":
		ev.Kind, ev.After = KindPush, p.After
		ev.Branch, err = pushedBranch(p.Ref)
	case "merge_request":
		ev.Kind = KindPullRequest
		if p.ObjectAttributes == nil {
			err = errors.New("object_attributes is missing")
		} else {
			ev.Branch = p.ObjectAttributes.TargetBranch
		}
	default:
		ev.Kind = KindOther
	}
	if err == nil && p.Project != nil {
		ev.Project, ev.CloneURLs = p.Project.PathWithNamespace, p.Project.urls()
	}
	if err == nil && ev.Project == "" && ev.Kind != KindOther {
		err = errors.New("project.path_with_namespace is missing")
	}
	if err != nil {
		return Event{}, fmt.Errorf("gitlab %s: %w", name, err)
	}
	return ev, nil
}

// pushedBranch returns the branch of a pushed ref, "" for a tag.
func pushedBranch(ref string) (string, error) {
	switch {
	case strings.HasPrefix(ref, "refs/heads/"):
		return strings.TrimPrefix(ref, "refs/heads/"), nil
	case strings.HasPrefix(ref, "refs/"):
		return "", nil
	}
	return "", fmt.Errorf("ref %q is not a full ref name (refs/heads/…)", ref)
}

// decode unmarshals a payload, saying where it is malformed.
func decode(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return errors.New("empty body")
	}
	err := json.Unmarshal(body, v)
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("malformed JSON at byte %d: %v", se.Offset, se)
	case errors.As(err, &te) && te.Field != "":
		return fmt.Errorf("field %s is a JSON %s, want %s", te.Field, te.Value, te.Type)
	case errors.As(err, &te):
		return fmt.Errorf("the body is a JSON %s, want an object", te.Value)
	case err != nil:
		return fmt.Errorf("malformed JSON: %v", err)
	}
	return nil
}
