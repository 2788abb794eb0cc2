package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
)

// testInstance serves go-containerregistry's in-memory registry on loopback, optionally
// wrapped, and returns an instance of it as the scenarios see one. Its "process" is the test
// itself, so rss-upload reads the test's own memory.
func testInstance(t *testing.T, wrap func(http.Handler) http.Handler) *instance {
	t.Helper()
	inst, _ := testServer(t, wrap)
	return inst
}

// testServer is testInstance that also returns the HTTP server.
func testServer(t *testing.T, wrap func(http.Handler) http.Handler) (*instance, *httptest.Server) {
	t.Helper()
	var h http.Handler = registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c, err := newClient("test", srv.URL, 8)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.close)
	return &instance{
		target: &target{Name: "test", Repo: "111122223333/bench/app"},
		pid:    os.Getpid(), dir: t.TempDir(), base: srv.URL, repo: "111122223333/bench/app", client: c, state: map[string]bool{},
	}, srv
}

func tinyConfig() config {
	return config{
		BigSize: 3<<20 + 17, RSSSize: 2 << 20, PatternSize: 1 << 20,
		SmallCount: 40, SmallSize: 4 << 10, SmallConcurrency: 4,
		ManifestConcurrency: 4, Warmup: 50 * time.Millisecond, Duration: 200 * time.Millisecond,
	}
}

// TestScenariosAgainstARegistry runs every scenario, setup and verification included,
// against a real registry handler over loopback HTTP.
func TestScenariosAgainstARegistry(t *testing.T) {
	inst := testInstance(t, nil)
	e := &env{cfg: tinyConfig(), firstPass: true}
	if err := e.payloads(scenarios()); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, sc := range scenarios() {
		res, cpu, err := measure(ctx, e, sc, inst)
		if err != nil {
			t.Fatalf("%s: %v", sc.Name, err)
		}
		if cpu.Client <= 0 {
			t.Errorf("%s: client CPU %v", sc.Name, cpu.Client)
		}
		for _, m := range sc.Metrics {
			if v, ok := res[m.Key]; !ok || !(v > 0) {
				t.Errorf("%s: metric %s = %v, %v", sc.Name, m.Key, v, ok)
			}
		}
	}
	ok, err := inst.client.blobExists(ctx, inst.repo, e.bigBlob.Digest)
	if err != nil || !ok {
		t.Errorf("big blob not in the registry after big-push: %v %v", ok, err)
	}
	ok, err = inst.client.blobExists(ctx, inst.repo, "sha256:"+strings.Repeat("0", 64))
	if err != nil || ok {
		t.Errorf("absent blob: exists %v, err %v", ok, err)
	}
}

// TestPullPreparesItsOwnData checks that a pull scenario run alone pushes what it reads.
func TestPullPreparesItsOwnData(t *testing.T) {
	inst := testInstance(t, nil)
	e := &env{cfg: tinyConfig()}
	for _, sc := range scenarios() {
		if sc.Name != "big-pull" && sc.Name != "small-pull" {
			continue
		}
		if err := e.payloads([]*scenario{sc}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := measure(context.Background(), e, sc, inst); err != nil {
			t.Fatalf("%s alone: %v", sc.Name, err)
		}
	}
}

// TestRegistryErrorsStopTheRun checks that wrong statuses, short bodies and wrong bytes are
// errors, never fast results.
func TestRegistryErrorsStopTheRun(t *testing.T) {
	ctx := context.Background()
	inst := testInstance(t, nil)
	repo := inst.repo
	blobs, _ := newSmallBlobs(1, 1000, 5)
	b := blobs[0]

	wrong := b.blobSpec
	wrong.Digest = "sha256:" + strings.Repeat("ab", 32)
	err := inst.client.pushBlob(ctx, repo, wrong, bytes.NewReader(b.data))
	var se *statusError
	if !errors.As(err, &se) || se.got != http.StatusBadRequest || !strings.Contains(err.Error(), "PUT") {
		t.Errorf("push with a wrong digest: %v", err)
	}
	if err := inst.client.manifest(ctx, http.MethodGet, repo, "missing", b.blobSpec); !errors.As(err, &se) || se.got != 404 {
		t.Errorf("GET of a missing manifest: %v", err)
	}

	// A registry that serves corrupted or truncated blobs.
	for name, mangle := range map[string]func([]byte) []byte{
		"corrupt":   func(p []byte) []byte { q := bytes.Clone(p); q[0] ^= 1; return q },
		"truncated": func(p []byte) []byte { return p[:len(p)-1] },
	} {
		bad := testInstance(t, func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/blobs/") {
					next.ServeHTTP(w, r)
					return
				}
				rec := httptest.NewRecorder()
				next.ServeHTTP(rec, r)
				w.WriteHeader(rec.Code)
				_, _ = w.Write(mangle(rec.Body.Bytes()))
			})
		})
		if err := bad.client.pushBlob(ctx, repo, b.blobSpec, bytes.NewReader(b.data)); err != nil {
			t.Fatal(err)
		}
		if err := verifyBlob(ctx, bad, b.blobSpec); err == nil {
			t.Errorf("%s blob passed verification", name)
		}
	}

	// A server that has exited is reported as such.
	dead := testInstance(t, nil)
	dead.exited = make(chan struct{})
	close(dead.exited)
	if err := dead.alive(); err == nil {
		t.Error("exited server reported alive")
	}
}

func TestLoginBasic(t *testing.T) {
	inst := testInstance(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if u, p, ok := r.BasicAuth(); !ok || u != "AWS" || p != "secret" {
				w.Header().Set("WWW-Authenticate", `Basic realm="coffer"`)
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	ctx := context.Background()
	if err := inst.client.login(ctx, inst.repo, nil); err == nil {
		t.Error("login without credentials succeeded against a registry that asks for them")
	}
	if err := inst.client.login(ctx, inst.repo, &credentials{"AWS", "wrong"}); err == nil {
		t.Error("login with a wrong password succeeded")
	}
	if err := inst.client.login(ctx, inst.repo, &credentials{"AWS", "secret"}); err != nil {
		t.Fatal(err)
	}
	e := &env{cfg: tinyConfig()}
	if err := needManifest(e); err != nil {
		t.Fatal(err)
	}
	if err := prepareManifest(ctx, e, inst); err != nil {
		t.Errorf("requests after Basic login: %v", err)
	}
}

func TestLoginBearer(t *testing.T) {
	const token = "tok-123"
	var scope string
	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "AWS" || p != "secret" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		scope = r.URL.Query().Get("scope")
		_ = json.NewEncoder(w).Encode(map[string]string{"token": token})
	}))
	t.Cleanup(tokens.Close)
	inst := testInstance(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer "+token {
				w.Header().Set("WWW-Authenticate", `Bearer realm="`+tokens.URL+`/token",service="coffer"`)
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	if err := inst.client.login(context.Background(), inst.repo, &credentials{"AWS", "secret"}); err != nil {
		t.Fatal(err)
	}
	if want := "repository:" + inst.repo + ":pull,push"; scope != want {
		t.Errorf("token scope %q, want %q", scope, want)
	}
}

func TestParseChallenge(t *testing.T) {
	scheme, p := parseChallenge(`Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull"`)
	if scheme != "Bearer" || p["realm"] != "https://auth.example/token" || p["service"] != "registry.example" ||
		p["scope"] != "repository:a/b:pull" {
		t.Errorf("got %q %v", scheme, p)
	}
	scheme, p = parseChallenge(`Basic realm=coffer`)
	if scheme != "Basic" || p["realm"] != "coffer" {
		t.Errorf("got %q %v", scheme, p)
	}
}

// TestConnSurvivesServerCloses drives the load workers' connection against a registry that
// sometimes answers "Connection: close" and that drops idle connections.
func TestConnSurvivesServerCloses(t *testing.T) {
	n := 0
	inst, srv := testServer(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n++
			if n%3 == 0 {
				w.Header().Set("Connection", "close")
			}
			next.ServeHTTP(w, r)
		})
	})
	ctx := context.Background()
	e := &env{cfg: tinyConfig()}
	if err := needManifest(e); err != nil {
		t.Fatal(err)
	}
	if err := prepareManifest(ctx, e, inst); err != nil {
		t.Fatal(err)
	}
	for _, method := range []string{http.MethodHead, http.MethodGet} {
		req, err := inst.client.manifestRequest(ctx, method, inst.repo, manifestTag)
		if err != nil {
			t.Fatal(err)
		}
		k, err := inst.client.newConn(req)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 10 {
			if i == 4 {
				// The server drops idle connections; the next request redials.
				srv.CloseClientConnections()
			}
			resp, err := k.roundTrip()
			if err != nil {
				t.Fatalf("%s %d: %v", method, i, err)
			}
			if err := inst.client.checkManifest(resp, e.manifest.spec); err != nil {
				t.Fatalf("%s %d: %v", method, i, err)
			}
		}
		k.close()
	}

	// A wrong answer is still an error on this path.
	req, _ := inst.client.manifestRequest(ctx, http.MethodGet, inst.repo, "absent")
	k, _ := inst.client.newConn(req)
	defer k.close()
	resp, err := k.roundTrip()
	if err != nil {
		t.Fatal(err)
	}
	var se *statusError
	if err := inst.client.checkManifest(resp, e.manifest.spec); !errors.As(err, &se) || se.got != 404 {
		t.Errorf("GET of an absent tag: %v", err)
	}
}
