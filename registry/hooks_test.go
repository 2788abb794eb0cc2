package registry

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/coffer-registry/coffer/store"
)

// accessLog records what the Authorize hook was asked.
type accessLog struct {
	mu   sync.Mutex
	seen []Access
}

func (l *accessLog) add(a Access) {
	l.mu.Lock()
	l.seen = append(l.seen, a)
	l.mu.Unlock()
}

func (l *accessLog) take() []Access {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.seen
	l.seen = nil
	return s
}

func TestAuthorizeHookContract(t *testing.T) {
	var deny func(Access) error
	log := &accessLog{}
	tr := newTestRegistry(t, func(c *Config) {
		c.CreateOnPush = true
		c.Region = "eu-central-1"
		c.Authorize = func(r *http.Request, a Access) error {
			log.add(a)
			if deny != nil {
				return deny(a)
			}
			return nil
		}
	})
	img := tr.pushImage(testRepo, "v1", nil)
	log.take()

	// Each operation asks for its ECR action on its repository's ARN, once.
	tr.do("GET", testRepo+"/manifests/v1", nil).expect(t, http.StatusOK)
	if got := log.take(); len(got) != 1 || !reflect.DeepEqual(got[0], Access{
		Account: testAccount, Repository: "team/app", Action: "ecr:BatchGetImage",
		Resource: "arn:aws:ecr:eu-central-1:111122223333:repository/team/app", Loaded: true,
	}) {
		t.Fatalf("accesses %+v", got)
	}

	// A plain error is DENIED (403) with the hook's message.
	deny = func(a Access) error {
		if a.Action == "ecr:PutImage" {
			return errors.New("User: arn:aws:iam::111122223333:user/dev is not authorized to perform: ecr:PutImage")
		}
		return nil
	}
	r := tr.do("PUT", testRepo+"/manifests/v2", img.manifest, "Content-Type", "application/vnd.oci.image.manifest.v1+json").
		expectError(t, http.StatusForbidden, CodeDenied)
	if !strings.Contains(string(r.body), "not authorized to perform: ecr:PutImage") {
		t.Errorf("message lost: %s", r.body)
	}
	tr.do("GET", testRepo+"/manifests/v2", nil).expect(t, http.StatusNotFound) // nothing stored

	// Unauthorized (401) carries a Basic challenge.
	deny = func(a Access) error { return Unauthorized("token expired") }
	r = tr.do("GET", testRepo+"/tags/list", nil).expectError(t, http.StatusUnauthorized, CodeUnauthorized)
	if ch := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(ch, `Basic realm="http://127.0.0.1:`) {
		t.Errorf("challenge %q", ch)
	}
	// Other codes pass through.
	deny = func(a Access) error { return TooManyRequests("slow down") }
	tr.do("GET", testRepo+"/tags/list", nil).expectError(t, http.StatusTooManyRequests, CodeTooManyRequests)

	// Denied before any work: no upload session, no repository created on push.
	deny = func(a Access) error { return Denied("no") }
	log.take()
	tr.do("POST", testRepo+"/blobs/uploads/", nil).expectError(t, http.StatusForbidden, CodeDenied)
	tr.do("POST", "/v2/111122223333/brand/new/blobs/uploads/", nil).expectError(t, http.StatusForbidden, CodeDenied)
	if tr.uploadsInProgress() != 0 {
		t.Error("a denied POST started an upload")
	}
	if _, err := tr.meta.GetRepository(context.Background(), testAccount, "brand/new"); err == nil {
		t.Error("a denied POST created a repository")
	}
	// Unknown repositories are denied, not revealed.
	tr.do("GET", "/v2/111122223333/no/such/tags/list", nil).expectError(t, http.StatusForbidden, CodeDenied)

	// Create-on-push also needs ecr:CreateRepository.
	deny = func(a Access) error {
		if a.Action == "ecr:CreateRepository" {
			return Denied("no creating")
		}
		return nil
	}
	tr.do("POST", "/v2/111122223333/brand/new/blobs/uploads/", nil).expectError(t, http.StatusForbidden, CodeDenied)
	deny = nil
	log.take()
	tr.do("POST", "/v2/111122223333/brand/new/blobs/uploads/", nil).expect(t, http.StatusAccepted)
	actions := []string{}
	for _, a := range log.take() {
		actions = append(actions, a.Action)
	}
	if !slices.Equal(actions, []string{"ecr:InitiateLayerUpload", "ecr:CreateRepository"}) {
		t.Errorf("create on push asked %v", actions)
	}
}

// A mount needs ecr:GetDownloadUrlForLayer on the source; without it the blob is uploaded.
func TestMountNeedsSourceRead(t *testing.T) {
	blocked := ""
	tr := newTestRegistry(t, func(c *Config) {
		c.Authorize = func(r *http.Request, a Access) error {
			if a.Action == "ecr:GetDownloadUrlForLayer" && a.Repository == blocked {
				return Denied("no reading " + blocked)
			}
			return nil
		}
	})
	if _, err := tr.meta.CreateRepository(context.Background(), testAccount, "team/secret"); err != nil {
		t.Fatal(err)
	}
	d := tr.pushBlob("/v2/111122223333/team/secret", []byte("secret layer"))
	blocked = "team/secret"
	tr.do("POST", testRepo+"/blobs/uploads/?mount="+d.String()+"&from=111122223333/team/secret", nil).expect(t, http.StatusAccepted)
	tr.do("POST", testRepo+"/blobs/uploads/?mount="+d.String(), nil).expect(t, http.StatusAccepted) // anonymous
	tr.do("HEAD", testRepo+"/blobs/"+d.String(), nil).expect(t, http.StatusNotFound)
	blocked = ""
	tr.do("POST", testRepo+"/blobs/uploads/?mount="+d.String(), nil).expect(t, http.StatusCreated)
	tr.do("HEAD", testRepo+"/blobs/"+d.String(), nil).expect(t, http.StatusOK)
}

func TestAuthenticateChallenge(t *testing.T) {
	type principal struct{}
	tr := newTestRegistry(t, func(c *Config) {
		c.Authenticate = func(r *http.Request) (*http.Request, error) {
			user, _, ok := r.BasicAuth()
			if !ok || user != "AWS" {
				return nil, errors.New("no basic auth credentials")
			}
			return r.WithContext(context.WithValue(r.Context(), principal{}, user)), nil
		}
		c.Authorize = func(r *http.Request, a Access) error {
			if r.Context().Value(principal{}) != "AWS" {
				return Denied("authorize saw no principal")
			}
			return nil
		}
		c.Realm = "https://111122223333.dkr.ecr.us-east-1.amazonaws.com/"
	})
	r := tr.do("GET", "/v2/", nil).expectError(t, http.StatusUnauthorized, CodeUnauthorized)
	if got := r.Header.Get("WWW-Authenticate"); got != `Basic realm="https://111122223333.dkr.ecr.us-east-1.amazonaws.com/",service="ecr.amazonaws.com"` {
		t.Errorf("challenge %q", got)
	}
	tr.do("GET", testRepo+"/tags/list", nil).expectError(t, http.StatusUnauthorized, CodeUnauthorized)
	auth := "Basic " + basic("AWS", "token")
	tr.do("GET", "/v2/", nil, "Authorization", auth).expect(t, http.StatusOK)
	tr.do("GET", testRepo+"/tags/list", nil, "Authorization", auth).expect(t, http.StatusOK)
}

func TestTagsListPagination(t *testing.T) {
	tr := newTestRegistry(t, nil)
	img := tr.pushImage(testRepo, "", nil)
	want := []string{"a", "b", "c", "d", "e"}
	for _, tag := range want {
		tr.do("PUT", testRepo+"/manifests/"+tag, img.manifest, "Content-Type", "application/vnd.oci.image.manifest.v1+json").expect(t, http.StatusCreated)
	}
	list := func(query string) (tagList, string) {
		r := tr.do("GET", testRepo+"/tags/list"+query, nil).expect(t, http.StatusOK)
		var tl tagList
		if err := json.Unmarshal(r.body, &tl); err != nil {
			t.Fatal(err)
		}
		if tl.Name != "111122223333/team/app" {
			t.Errorf("name %q", tl.Name)
		}
		return tl, r.Header.Get("Link")
	}
	all, link := list("")
	if !slices.Equal(all.Tags, want) || link != "" {
		t.Errorf("all: %v, link %q", all.Tags, link)
	}
	page, link := list("?n=2")
	if !slices.Equal(page.Tags, []string{"a", "b"}) || link != `</v2/111122223333/team/app/tags/list?last=b&n=2>; rel="next"` {
		t.Errorf("page 1: %v, link %q", page.Tags, link)
	}
	page, link = list("?n=2&last=d")
	if !slices.Equal(page.Tags, []string{"e"}) || link != "" {
		t.Errorf("last page: %v, link %q", page.Tags, link)
	}
	page, _ = list("?last=b")
	if !slices.Equal(page.Tags, []string{"c", "d", "e"}) {
		t.Errorf("after b: %v", page.Tags)
	}
	page, link = list("?n=0")
	if len(page.Tags) != 0 || link != "" {
		t.Errorf("n=0: %v", page.Tags)
	}
	tr.do("GET", testRepo+"/tags/list?n=-1", nil).expectError(t, http.StatusBadRequest, CodeUnsupported)
	tr.do("GET", testRepo+"/tags/list?n=x", nil).expectError(t, http.StatusBadRequest, CodeUnsupported)

	// A repository without tags lists none (an empty array, not null).
	if _, err := tr.meta.CreateRepository(context.Background(), testAccount, "team/empty"); err != nil {
		t.Fatal(err)
	}
	r := tr.do("GET", "/v2/111122223333/team/empty/tags/list", nil).expect(t, http.StatusOK)
	if !strings.Contains(string(r.body), `"tags":[]`) {
		t.Errorf("empty: %s", r.body)
	}
}

func TestCatalog(t *testing.T) {
	hidden := map[string]bool{}
	tr := newTestRegistry(t, func(c *Config) {
		c.Authorize = func(r *http.Request, a Access) error {
			if a.Action == "ecr:DescribeRepositories" && hidden[a.Account+"/"+a.Repository] {
				return Denied("hidden")
			}
			return nil
		}
	})
	ctx := context.Background()
	for _, name := range []string{"111122223333/team/b", "111122223333/team/c", "444455556666/team/app", "444455556666/zeta/one"} {
		account, repo, _ := strings.Cut(name, "/")
		if _, err := tr.meta.CreateRepository(ctx, account, repo); err != nil {
			t.Fatal(err)
		}
	}
	list := func(query string) ([]string, string) {
		r := tr.do("GET", "/v2/_catalog"+query, nil).expect(t, http.StatusOK)
		var cl catalogList
		if err := json.Unmarshal(r.body, &cl); err != nil {
			t.Fatal(err)
		}
		return cl.Repositories, r.Header.Get("Link")
	}
	all := []string{"111122223333/team/app", "111122223333/team/b", "111122223333/team/c", "444455556666/team/app", "444455556666/zeta/one"}
	if got, link := list(""); !slices.Equal(got, all) || link != "" {
		t.Errorf("catalog %v %q", got, link)
	}
	got, link := list("?n=2")
	if !slices.Equal(got, all[:2]) || link != `</v2/_catalog?last=111122223333%2Fteam%2Fb&n=2>; rel="next"` {
		t.Errorf("page 1 %v %q", got, link)
	}
	got, _ = list("?n=2&last=111122223333/team/b")
	if !slices.Equal(got, all[2:4]) {
		t.Errorf("page 2 %v", got)
	}
	// Repositories the caller may not describe are left out, and pages still fill up.
	hidden["111122223333/team/b"] = true
	hidden["111122223333/team/c"] = true
	got, link = list("?n=2")
	if !slices.Equal(got, []string{"111122223333/team/app", "444455556666/team/app"}) || link == "" {
		t.Errorf("filtered %v %q", got, link)
	}
	got, link = list("?n=2&last=444455556666/team/app")
	if !slices.Equal(got, []string{"444455556666/zeta/one"}) || link != "" {
		t.Errorf("filtered last page %v %q", got, link)
	}
}

func basic(user, pass string) string {
	req, _ := http.NewRequest("GET", "/", nil)
	req.SetBasicAuth(user, pass)
	return strings.TrimPrefix(req.Header.Get("Authorization"), "Basic ")
}

// TestAccessCarriesRepositoryPolicyAndTags: the hook gets the repository's policy and tags
// as stored at the time of the request, read with the repository (no second read).
func TestAccessCarriesRepositoryPolicyAndTags(t *testing.T) {
	log := &accessLog{}
	tr := newTestRegistry(t, func(c *Config) {
		c.Authorize = func(r *http.Request, a Access) error { log.add(a); return nil }
	})
	ctx := context.Background()
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"ecr:BatchGetImage"}]}`
	if _, err := tr.meta.UpdateRepository(ctx, tr.repo.ID, func(r *store.Repository) error {
		r.Policy, r.Tags = doc, map[string]string{"team": "a"}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	tr.do("GET", testRepo+"/tags/list", nil).expect(t, http.StatusOK)
	got := log.take()
	if len(got) != 1 || !got[0].Loaded || got[0].Policy != doc || got[0].Tags["team"] != "a" {
		t.Fatalf("accesses %+v", got)
	}
	// A missing repository is authorized first (with no policy), then NAME_UNKNOWN.
	tr.do("GET", "/v2/111122223333/missing/app/tags/list", nil).expectError(t, http.StatusNotFound, CodeNameUnknown)
	if got := log.take(); len(got) != 1 || !got[0].Loaded || got[0].Policy != "" || got[0].Repository != "missing/app" {
		t.Fatalf("accesses %+v", got)
	}
	// The owning account's registry policy comes with every loaded access.
	registryDoc := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"ecr:*","Resource":"*"}]}`
	if err := tr.meta.PutRegistryPolicy(ctx, testAccount, registryDoc); err != nil {
		t.Fatal(err)
	}
	tr.do("GET", testRepo+"/tags/list", nil).expect(t, http.StatusOK)
	if got := log.take(); len(got) != 1 || got[0].RegistryPolicy != registryDoc || got[0].Policy != doc {
		t.Fatalf("accesses %+v", got)
	}
}
