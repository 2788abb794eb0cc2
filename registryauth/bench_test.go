package registryauth_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-registry/coffer/audit"
	"github.com/coffer-registry/coffer/auth"
	"github.com/coffer-registry/coffer/awsproto"
	"github.com/coffer-registry/coffer/registry"
	"github.com/coffer-registry/coffer/registryauth"
	"github.com/coffer-registry/coffer/store/cache"
)

// benchClients is the concurrency for the manifest GET target.
const benchClients = 32

// manifestFixture is the world both manifest benchmarks measure: a repository with a policy
// (an allow and a conditioned deny), a pulling user's token, an image pushed by an admin, and
// the path of its manifest by tag.
func manifestFixture(b *testing.B) (w *world, token string, img image, path string) {
	w = newWorld(b, false)
	A := w.acctA
	w.repo(A, "bench/app")
	token = w.user(A, "puller", nil, readOnlyARN)
	admin := w.user(A, "admin", []string{allow("ecr:*")})
	w.facts.setPolicy(A, "bench/app", `{"Version":"2012-10-17","Statement":[
		{"Sid":"Pullers","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::`+A+`:root"},"Action":["ecr:BatchGetImage"]},
		{"Sid":"NoOutsiders","Effect":"Deny","Principal":"*","Action":"ecr:PutImage","Condition":{"Bool":{"aws:SecureTransport":"false"},"StringNotEquals":{"aws:PrincipalAccount":"`+A+`"}}}]}`)
	img = w.pushImage(admin, "/v2/"+A+"/bench/app", "latest", "bench")
	path = "/v2/" + A + "/bench/app/manifests/latest"
	return w, token, img, path
}

// BenchmarkManifestGetAuthorized measures manifest GETs by tag at 32 concurrent clients on
// four servers over the same stores, side by side in one run, alternating over rounds:
//
//	off:   the registry with no hooks (authorization disabled)
//	authz: token check + policy evaluation (repository policy, identity policies)
//	audit: off plus the audit trail (coffer serve --insecure-no-auth)
//	full:  authz plus the audit trail (one fsync'd event per request; coffer serve)
//
// The servers take turns, each round starting with the next one, so that none always runs
// first or last on a machine whose load changes. Clients send a Basic header computed once,
// as docker and go run ./bench do.
//
// It reports each server's requests/s and the ratios authz/off, full/off and full/audit
// (issue #5's target, ≥ 0.9: coffer serve against coffer serve --insecure-no-auth), and the
// process CPU per request that authorization adds (full against audit), with the ratio of
// CPU per request audit/full: what full/audit would be if CPU alone decided.
func BenchmarkManifestGetAuthorized(b *testing.B) {
	w, token, img, path := manifestFixture(b)

	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	// The metadata store as coffer serve opens it: behind store/cache, so that the figures
	// measure the authorization path rather than SQLite reads.
	meta := cache.New(w.meta, cache.Options{})
	off := httptest.NewServer(registry.New(registry.Config{Blobs: w.blobs, Store: meta, Region: region, Logger: quiet}))
	defer off.Close()
	authzOnly := httptest.NewServer(registry.New(w.hooks.Config(registry.Config{Blobs: w.blobs, Store: meta, Region: region, Logger: quiet})))
	defer authzOnly.Close()
	trail, err := audit.Open(audit.Config{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer trail.Close()
	reg := registry.New(w.hooks.Config(registry.Config{Blobs: w.blobs, Store: meta, Region: region, Logger: quiet}))
	full := httptest.NewServer(trail.Registry(audit.RegistryConfig{Region: region, Describe: registryauth.Describe(reg)}, reg))
	defer full.Close()
	// coffer serve --insecure-no-auth: the registry notes its routing for the audit trail.
	plain := registry.New(registry.Config{Blobs: w.blobs, Store: meta, Region: region, Logger: quiet, Routed: registryauth.NoteOperation})
	audited := httptest.NewServer(trail.Registry(audit.RegistryConfig{Region: region, Describe: registryauth.Describe(plain)}, plain))
	defer audited.Close()
	basic := "Basic " + basicPassword(token)

	servers := []struct {
		name  string
		url   string
		token string
		reqs  int64
		dur   time.Duration
		cpu   int64 // process CPU (ns) while the server was measured: server, clients and audit writer
	}{{"off", off.URL, "", 0, 0, 0}, {"authz", authzOnly.URL, basic, 0, 0, 0}, {"audit", audited.URL, "", 0, 0, 0},
		{"full", full.URL, basic, 0, 0, 0}}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConns, transport.MaxIdleConnsPerHost = 256, 256
	client := &http.Client{Transport: transport}

	const rounds = 6
	perRound := max(b.N/rounds, benchClients)
	b.ResetTimer()
	for round := range rounds {
		for k := range servers {
			s := &servers[(round+k)%len(servers)] // each server takes each place in turn
			var next atomic.Int64
			var wg sync.WaitGroup
			start, cpu := time.Now(), processCPU()
			for range benchClients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int64(perRound) {
						req, _ := http.NewRequest(http.MethodGet, s.url+path, nil)
						req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json")
						if s.token != "" {
							req.Header.Set("Authorization", s.token)
						}
						resp, err := client.Do(req)
						if err != nil {
							b.Error(err)
							return
						}
						n, _ := io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode != http.StatusOK || n != int64(len(img.manifest)) {
							b.Errorf("%s: status %d", s.name, resp.StatusCode)
							return
						}
					}
				}()
			}
			wg.Wait()
			s.dur += time.Since(start)
			s.cpu += processCPU() - cpu
			s.reqs += int64(perRound)
		}
	}
	b.StopTimer()
	rate := map[string]float64{}
	for _, s := range servers {
		rate[s.name] = float64(s.reqs) / s.dur.Seconds()
		b.ReportMetric(rate[s.name], s.name+"-req/s")
	}
	b.ReportMetric(rate["authz"]/rate["off"], "authz/off")
	b.ReportMetric(rate["full"]/rate["off"], "full/off")
	b.ReportMetric(rate["full"]/rate["audit"], "full/audit")
	// CPU per request varies less than requests/s on a shared machine: the cost of
	// authorization in microseconds of CPU (clients included, the same for every server).
	cpu := map[string]float64{}
	for _, s := range servers {
		cpu[s.name] = float64(s.cpu) / float64(s.reqs) / 1e3
	}
	if cpu["full"] > 0 {
		b.ReportMetric(cpu["full"]-cpu["audit"], "full-audit-cpu-us/req")
		b.ReportMetric(cpu["audit"]/cpu["full"], "cpu-audit/full")
	}
	b.ReportMetric(0, "ns/op") // the figures above are the result; time per b.N means nothing here
}

// BenchmarkHooks measures what authorization adds to one manifest GET, without HTTP: the
// Authenticate hook (Basic AWS:<token>) and the Authorize hook (ecr:BatchGetImage with the
// repository's policy and tags), for -benchmem's allocations per request, on every core
// (the caches are read by all of them at once in coffer serve):
//
//	bare:    a request as the registry gets it without the audit trail
//	audited: a request as the audit middleware hands it on in coffer serve, with the request
//	         context and a caller slot (the slot and its context are made per request here,
//	         as the middleware does: their allocation is counted)
func BenchmarkHooks(b *testing.B) {
	w := newWorld(b, false)
	A := w.acctA
	w.repo(A, "bench/app")
	token := w.user(A, "puller", nil, readOnlyARN)
	policy := `{"Version":"2012-10-17","Statement":[{"Sid":"Pullers","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + A +
		`:root"},"Action":["ecr:BatchGetImage"]}]}`
	access := registry.Access{Account: A, Repository: "bench/app", Action: "ecr:BatchGetImage",
		Resource: "arn:aws:ecr:" + region + ":" + A + ":repository/bench/app", Loaded: true, Policy: policy,
		Tags: map[string]string{"team": "build", "env": "prod"}}
	for _, audited := range []bool{false, true} {
		name := "bare"
		if audited {
			name = "audited"
		}
		b.Run(name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/v2/"+A+"/bench/app/manifests/latest", nil)
			req.SetBasicAuth("AWS", token)
			base := awsproto.WithRequestContext(req.Context(), awsproto.ClientInfo{}.NewRequestContext(req))
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					in := req
					if audited {
						slot := new(auth.CallerSlot)
						in = req.WithContext(auth.WithCallerSlot(base, slot))
					}
					r, err := w.hooks.Authenticate(in)
					if err != nil {
						b.Fatal(err)
					}
					if audited && r != in {
						b.Fatal("Authenticate made another request although the caller slot was there")
					}
					if err := w.hooks.Authorize(r, access); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// BenchmarkServeManifest serves one manifest GET by tag straight into a recorder (no
// network, no client), for the server's own time and allocations per request:
//
//	off:        the registry with no hooks
//	audit:      off plus the audit trail (coffer serve --insecure-no-auth)
//	authz:      token check + policy evaluation, no audit trail
//	full:       authz plus the audit trail (coffer serve)
//
// What authorization costs coffer serve is full against audit.
func BenchmarkServeManifest(b *testing.B) {
	w, token, img, path := manifestFixture(b)

	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	meta := cache.New(w.meta, cache.Options{})
	trail, err := audit.Open(audit.Config{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer trail.Close()
	plain := registry.New(registry.Config{Blobs: w.blobs, Store: meta, Region: region, Logger: quiet, Routed: registryauth.NoteOperation})
	authorized := registry.New(w.hooks.Config(registry.Config{Blobs: w.blobs, Store: meta, Region: region, Logger: quiet}))
	audited := func(reg *registry.Handler) http.Handler {
		return trail.Registry(audit.RegistryConfig{Region: region, Describe: registryauth.Describe(reg)}, reg)
	}
	for _, v := range []struct {
		name    string
		handler http.Handler
		token   string
	}{
		{"off", plain, ""},
		{"audit", audited(plain), ""},
		{"authz", authorized, token},
		{"full", audited(authorized), token},
	} {
		b.Run(v.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, path, nil)
			req.RemoteAddr = "10.1.2.3:40000"
			req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json")
			req.Header.Set("User-Agent", "bench/1.0")
			if v.token != "" {
				req.SetBasicAuth("AWS", v.token)
			}
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				v.handler.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK || rec.Body.Len() != len(img.manifest) {
					b.Fatalf("status %d", rec.Code)
				}
			}
		})
	}
}
