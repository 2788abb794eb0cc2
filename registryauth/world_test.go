package registryauth_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/coffer-registry/coffer/audit"
	"github.com/coffer-registry/coffer/auth"
	"github.com/coffer-registry/coffer/auth/registrytoken"
	"github.com/coffer-registry/coffer/authz"
	blobfs "github.com/coffer-registry/coffer/blob/fs"
	"github.com/coffer-registry/coffer/iam"
	"github.com/coffer-registry/coffer/iam/iamsql"
	"github.com/coffer-registry/coffer/registry"
	"github.com/coffer-registry/coffer/registryauth"
	"github.com/coffer-registry/coffer/store"
	"github.com/coffer-registry/coffer/store/sqlite"
)

const region = "us-east-1"

// repoFacts sets repository policies and tags in the metadata store, as the ECR API's
// SetRepositoryPolicy and TagResource do.
type repoFacts struct {
	w *world
}

func (f *repoFacts) update(account, name string, fn func(r *store.Repository)) {
	f.w.t.Helper()
	ctx := context.Background()
	repo, err := f.w.meta.GetRepository(ctx, account, name)
	if err != nil {
		f.w.t.Fatal(err)
	}
	if _, err := f.w.meta.UpdateRepository(ctx, repo.ID, func(r *store.Repository) error { fn(r); return nil }); err != nil {
		f.w.t.Fatal(err)
	}
}

func (f *repoFacts) setPolicy(account, name, doc string) {
	f.update(account, name, func(r *store.Repository) { r.Policy = doc })
}

func (f *repoFacts) setTags(account, name string, tags map[string]string) {
	f.update(account, name, func(r *store.Repository) { r.Tags = tags })
}

// world is a whole registry on loopback: the real IAM store, tokens, authorizer, the
// registry over the filesystem blob store and SQLite, the audit trail and the ECR host form.
type world struct {
	t        testing.TB
	iam      *iamsql.Service
	tokens   *registrytoken.Tokens
	key      []byte
	meta     store.Store
	blobs    *blobfs.Store
	hooks    *registryauth.Hooks
	facts    *repoFacts
	trail    *audit.Writer
	trailDir string
	srv      *httptest.Server
	acctA    string // the management account
	acctB    string // a member account
	root     *iam.NewAccessKey
	rootP    *iam.Principal
}

func newWorld(t testing.TB, tls bool) *world {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	w := &world{t: t, trailDir: filepath.Join(dir, "audit")}
	var err error
	w.iam, err = iamsql.Open(ctx, iamsql.Config{DBPath: filepath.Join(dir, "iam.db"), KeyPath: filepath.Join(dir, "iam.key"),
		ValidatePolicy: iam.ValidatePolicyDocument})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.iam.Close() })
	boot, err := w.iam.Bootstrap(ctx, iamsql.BootstrapInput{})
	if err != nil {
		t.Fatal(err)
	}
	w.acctA, w.root = boot.Account.ID, boot.RootKey
	b, err := w.iam.CreateAccount(ctx, iamsql.CreateAccountInput{Name: "b", Email: "b@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	w.acctB = b.ID
	cred, err := w.iam.LookupCredential(ctx, w.root.ID)
	if err != nil {
		t.Fatal(err)
	}
	w.rootP = cred.Principal

	if w.key, err = iam.LoadOrCreateKey(filepath.Join(dir, registrytoken.KeyFile)); err != nil {
		t.Fatal(err)
	}
	if w.tokens, err = registrytoken.New(registrytoken.Config{Key: w.key, Store: w.iam}); err != nil {
		t.Fatal(err)
	}
	blobs, err := blobfs.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	meta, err := sqlite.Open(filepath.Join(dir, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { meta.Close() })
	w.meta, w.blobs = meta, blobs
	if w.trail, err = audit.Open(audit.Config{Dir: w.trailDir}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.trail.Close() })

	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	w.facts = &repoFacts{w: w}
	hooks := registryauth.New(registryauth.Config{Tokens: w.tokens, Authorizer: authz.New(authz.Config{Identities: w.iam, Region: region}),
		Logger: quiet})
	w.hooks = hooks
	reg := registry.New(hooks.Config(registry.Config{Blobs: blobs, Store: meta, Region: region, Logger: quiet}))
	handler := registryauth.ECRHost(w.trail.Registry(audit.RegistryConfig{Region: region, Describe: registryauth.Describe(reg)}, reg))
	if tls {
		w.srv = httptest.NewTLSServer(handler)
	} else {
		w.srv = httptest.NewServer(handler)
	}
	t.Cleanup(w.srv.Close)
	return w
}

// user creates an IAM user in account with inline policies and managed policy ARNs, and
// returns its registry token.
func (w *world) user(account, name string, inline []string, managed ...string) string {
	w.t.Helper()
	ctx := context.Background()
	if _, err := w.iam.CreateUser(ctx, iamsql.CreateUserInput{Account: account, Name: name}); err != nil {
		w.t.Fatal(err)
	}
	ref := iam.EntityRef{Account: account, Kind: iam.KindUser, Name: name}
	for i, doc := range inline {
		if err := w.iam.PutInlinePolicy(ctx, ref, name+string(rune('a'+i)), doc); err != nil {
			w.t.Fatal(err)
		}
	}
	for _, arn := range managed {
		if err := w.iam.AttachPolicy(ctx, ref, arn); err != nil {
			w.t.Fatal(err)
		}
	}
	k, err := w.iam.CreateAccessKey(ctx, account, name)
	if err != nil {
		w.t.Fatal(err)
	}
	return w.tokenFor(k.ID)
}

// tokenFor issues a token for the principal signing with access key id, as
// GetAuthorizationToken does for the caller it authenticated.
func (w *world) tokenFor(id string) string {
	w.t.Helper()
	cred, err := w.iam.LookupCredential(context.Background(), id)
	if err != nil {
		w.t.Fatal(err)
	}
	tok, _, err := w.tokens.Issue(context.Background(), auth.NewCaller(auth.SigV4, cred.Principal, cred.Generation))
	if err != nil {
		w.t.Fatal(err)
	}
	return tok
}

func (w *world) repo(account, name string) {
	w.t.Helper()
	if _, err := w.meta.CreateRepository(context.Background(), account, name); err != nil {
		w.t.Fatal(err)
	}
}

// response is a finished exchange.
type response struct {
	status int
	header http.Header
	body   []byte
	method string
	path   string
}

// do sends one request with token as the Basic password ("" sends no credentials).
func (w *world) do(token, method, path string, body []byte, headers ...string) response {
	w.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, w.srv.URL+path, rd)
	if err != nil {
		w.t.Fatal(err)
	}
	if token != "" {
		req.SetBasicAuth("AWS", token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := w.srv.Client().Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: b, method: method, path: path}
}

func (r response) ociError() (code, message string) {
	var body struct {
		Errors []struct{ Code, Message string } `json:"errors"`
	}
	if json.Unmarshal(r.body, &body) != nil || len(body.Errors) != 1 {
		return "", ""
	}
	return body.Errors[0].Code, body.Errors[0].Message
}

func (r response) String() string {
	return r.method + " " + r.path + ": " + http.StatusText(r.status) + " " + string(r.body)
}

// pushBlob uploads content (POST + PUT) and returns its digest.
func (w *world) pushBlob(token, repoPath string, content []byte) digest.Digest {
	w.t.Helper()
	d := digest.FromBytes(content)
	r := w.do(token, "POST", repoPath+"/blobs/uploads/", nil)
	if r.status != http.StatusAccepted {
		w.t.Fatalf("upload start: %s", r)
	}
	r = w.do(token, "PUT", r.header.Get("Location")+"?digest="+d.String(), content, "Content-Type", "application/octet-stream")
	if r.status != http.StatusCreated {
		w.t.Fatalf("upload finish: %s", r)
	}
	return d
}

// image is a pushed image manifest.
type image struct {
	config, layer digest.Digest
	manifest      []byte
	digest        digest.Digest
}

func (w *world) pushImage(token, repoPath, tag, salt string) image {
	w.t.Helper()
	configBytes := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"salt":"` + salt + `"}`)
	layerBytes := []byte("layer " + salt)
	img := image{config: w.pushBlob(token, repoPath, configBytes), layer: w.pushBlob(token, repoPath, layerBytes)}
	m, _ := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.manifest.v1+json",
		"config":        map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": img.config, "size": len(configBytes)},
		"layers":        []any{map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": img.layer, "size": len(layerBytes)}},
	})
	img.manifest, img.digest = m, digest.FromBytes(m)
	ref := tag
	if ref == "" {
		ref = img.digest.String()
	}
	r := w.do(token, "PUT", repoPath+"/manifests/"+ref, m, "Content-Type", "application/vnd.oci.image.manifest.v1+json")
	if r.status != http.StatusCreated {
		w.t.Fatalf("manifest put: %s", r)
	}
	return img
}

// events reads the audit trail after flushing it.
func (w *world) events(f audit.Filter) []*audit.Event {
	w.t.Helper()
	if err := w.trail.Flush(); err != nil {
		w.t.Fatal(err)
	}
	var out []*audit.Event
	if err := audit.Read(w.trailDir, f, func(e *audit.Event) error { out = append(out, e); return nil }); err != nil {
		w.t.Fatal(err)
	}
	return out
}

// allow is an identity policy allowing actions on resources.
func allow(actions string, resources ...string) string {
	if len(resources) == 0 {
		resources = []string{"*"}
	}
	rs, _ := json.Marshal(resources)
	as, _ := json.Marshal(strings.Split(actions, ","))
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":` + string(as) + `,"Resource":` + string(rs) + `}]}`
}

func basicPassword(token string) string {
	return base64.StdEncoding.EncodeToString([]byte("AWS:" + token))
}

var _ = time.Second

func iamCreateUser(account, name string) iamsql.CreateUserInput {
	return iamsql.CreateUserInput{Account: account, Name: name}
}

// createRole makes a role in account trusted by the whole account, and returns its ARN.
func createRole(t testing.TB, w *world, account, name string) string {
	t.Helper()
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + account + `:root"},"Action":"sts:AssumeRole"}]}`
	r, err := w.iam.CreateRole(context.Background(), iamsql.CreateRoleInput{Account: account, Name: name, AssumeRolePolicy: trust})
	if err != nil {
		t.Fatal(err)
	}
	return r.ARN
}

func auditFilterRepo(repo string) audit.Filter { return audit.Filter{Repository: repo} }
