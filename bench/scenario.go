package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"net/http"
	"slices"
	"sync"
	"syscall"
	"time"
)

// metric is one number a scenario reports.
type metric struct {
	Key          string // key in results and JSON, e.g. "mb_s"
	Unit         string // shown in tables, e.g. "MB/s"
	HigherBetter bool
}

// goal is one target from the project issue, checked against the final medians: either the
// median ratio against the baseline (Ratio) or the median value of the registry under test.
type goal struct {
	Metric string
	Ratio  bool
	AtMost bool // the value must be ≤ Value; otherwise ≥
	Value  float64
	// Of and Over name the registries a ratio divides (Of/Over) and the one a plain value is
	// read from (Of); empty means subject and baseline.
	Of, Over string
	Issue    int // the project issue that sets the goal
}

// of and over are the goal's registries with the defaults applied.
func (g goal) of() string   { return cmp.Or(g.Of, subject) }
func (g goal) over() string { return cmp.Or(g.Over, baseline) }

// named reports whether the goal is about other registries than the default pair, so its
// short form must name them.
func (g goal) named() bool { return g.of() != subject || (g.Ratio && g.over() != baseline) }

// String renders a goal with the metric's unit label:
// "coffer/distribution MB/s ≥ 1.40×", "coffer p99 ms ≤ 10".
func (g goal) String(unit string) string {
	op := "≥"
	if g.AtMost {
		op = "≤"
	}
	if g.Ratio {
		return fmt.Sprintf("%s/%s %s %s %.2f×", g.of(), g.over(), unit, op, g.Value)
	}
	return fmt.Sprintf("%s %s %s %g", g.of(), unit, op, g.Value)
}

// short renders the goal for the medians table, whose ratio column is subject/baseline:
// "≥ 1.40×", "≤ 10", and with the names when it is about other registries,
// "coffer-auth/coffer ≥ 0.90×".
func (g goal) short() string {
	op := "≥"
	if g.AtMost {
		op = "≤"
	}
	prefix := ""
	if g.named() {
		prefix = g.of() + " "
		if g.Ratio {
			prefix = g.of() + "/" + g.over() + " "
		}
	}
	if g.Ratio {
		return fmt.Sprintf("%s%s %.2f×", prefix, op, g.Value)
	}
	return fmt.Sprintf("%s%s %g", prefix, op, g.Value)
}

// met reports whether v satisfies the goal.
func (g goal) met(v float64) bool {
	if g.AtMost {
		return v <= g.Value
	}
	return v >= g.Value
}

// scenario is one measurement, run once per round on every target.
type scenario struct {
	Name    string
	About   string
	Metrics []metric // the first is the headline
	Goals   []goal
	// Fresh scenarios get a newly started registry of their own (peak RSS is a property of the
	// process's whole life); the others share one instance per target per round.
	Fresh bool
	// Payload builds the data the scenario sends, once per run, before any timing (may be nil).
	Payload func(e *env) error
	// Prepare does untimed setup in the instance (may be nil); Run measures.
	Prepare func(ctx context.Context, e *env, inst *instance) error
	Run     func(ctx context.Context, e *env, inst *instance) (map[string]float64, error)
}

// env is what scenarios share: the settings and payloads built once, before any timing.
type env struct {
	cfg config

	once      sync.Map // payload name → *sync.Once
	bigBlob   *repeatedBlob
	rssBlob   *repeatedBlob
	small     []smallBlob
	manifest  *manifestSet
	bigPat    pattern
	firstPass bool // true in the first round: scenarios verify content (untimed)
	round     int  // current round, from 1
}

// build runs f once per name.
func (e *env) build(name string, f func()) {
	o, _ := e.once.LoadOrStore(name, new(sync.Once))
	o.(*sync.Once).Do(f)
}

func (e *env) pattern() pattern {
	e.build("pattern", func() { e.bigPat = newPattern(int(e.cfg.PatternSize), 1) })
	return e.bigPat
}

// payloads builds, once each, what the given scenarios need: random bytes and digests are
// computed before any timing starts.
func (e *env) payloads(scs []*scenario) error {
	for _, sc := range scs {
		if sc.Payload == nil {
			continue
		}
		if err := sc.Payload(e); err != nil {
			return fmt.Errorf("%s: %w", sc.Name, err)
		}
	}
	return nil
}

// needBig, needRSS, needSmall and needManifest build one shared payload each, once.
func needBig(e *env) (err error) {
	e.build("big", func() { e.bigBlob, err = newRepeatedBlob(e.pattern(), e.cfg.BigSize) })
	return err
}

func needRSS(e *env) (err error) {
	e.build("rss", func() { e.rssBlob, err = newRepeatedBlob(e.pattern(), e.cfg.RSSSize) })
	return err
}

func needSmall(e *env) (err error) {
	e.build("small", func() { e.small, err = newSmallBlobs(e.cfg.SmallCount, int(e.cfg.SmallSize), 2) })
	return err
}

func needManifest(e *env) error {
	e.build("manifest", func() { e.manifest = newManifestSet() })
	return nil
}

// scenarios lists every scenario in the order a round runs them. A new scenario is one more
// entry: Payload builds its data once, Prepare sets up each instance untimed, Run measures and
// returns the values of Metrics by key; Goals are checked against the medians.
func scenarios() []*scenario {
	return []*scenario{
		{
			Name:    "big-push",
			About:   "one big blob (--big-size) pushed monolithically: POST, then PUT ?digest= with the body streamed",
			Metrics: []metric{{"mb_s", "MB/s", true}},
			Goals:   []goal{{Metric: "mb_s", Ratio: true, Value: 1.4, Issue: 4}, {Metric: "mb_s", Value: 900, Issue: 4}},
			Payload: needBig,
			Run:     runBigPush,
		},
		{
			Name:    "big-pull",
			About:   "GET of the big blob, bytes discarded",
			Metrics: []metric{{"mb_s", "MB/s", true}},
			Goals:   []goal{{Metric: "mb_s", Ratio: true, Value: 1.0, Issue: 4}},
			Payload: needBig,
			Prepare: prepareBigPull,
			Run:     runBigPull,
		},
		{
			Name:    "small-push",
			About:   "--small-count distinct blobs of --small-size, POST + PUT each, --small-concurrency clients",
			Metrics: []metric{{"blobs_s", "blobs/s", true}, {"post_p50_ms", "POST p50 ms", false}, {"put_p50_ms", "PUT p50 ms", false}},
			Goals:   []goal{{Metric: "blobs_s", Ratio: true, Value: 6, Issue: 4}},
			Payload: needSmall,
			Run:     runSmallPush,
		},
		{
			Name:    "small-pull",
			About:   "GET of each small blob, --small-concurrency clients",
			Metrics: []metric{{"blobs_s", "blobs/s", true}},
			Payload: needSmall,
			Prepare: prepareSmallPull,
			Run:     runSmallPull,
		},
		manifestScenario("manifest-head", http.MethodHead),
		manifestScenario("manifest-get", http.MethodGet),
		{
			Name:    "rss-upload",
			About:   "peak resident memory (VmHWM) of a freshly started server after one --rss-size upload",
			Metrics: []metric{{"peak_mib", "peak MiB", false}, {"idle_mib", "idle MiB", false}, {"mb_s", "MB/s", true}},
			Goals:   []goal{{Metric: "peak_mib", AtMost: true, Value: 100, Issue: 4}},
			Fresh:   true,
			Payload: needRSS,
			Run:     runRSSUpload,
		},
	}
}

func manifestScenario(name, method string) *scenario {
	return &scenario{
		Name:    name,
		About:   method + " of a manifest by tag, --manifest-concurrency clients for --duration after --warmup",
		Metrics: []metric{{"req_s", "req/s", true}, {"p50_ms", "p50 ms", false}, {"p99_ms", "p99 ms", false}},
		Goals: []goal{{Metric: "req_s", Ratio: true, Value: 2.5, Issue: 4}, {Metric: "p99_ms", AtMost: true, Value: 10, Issue: 4},
			// Authorization (token check and policy evaluation) costs at most a tenth of
			// the throughput and still leaves Coffer 2.5 times as fast as Distribution.
			{Metric: "req_s", Ratio: true, Value: 0.9, Of: "coffer-auth", Over: "coffer", Issue: 5},
			{Metric: "req_s", Ratio: true, Value: 2.5, Of: "coffer-auth", Over: "distribution", Issue: 5}},
		Payload: needManifest,
		Prepare: prepareManifest,
		Run: func(ctx context.Context, e *env, inst *instance) (map[string]float64, error) {
			return runManifest(ctx, e, inst, method)
		},
	}
}

// flush writes dirty pages to disk so one measurement's write-back does not slow the next.
func flush() { syscall.Sync() }

// mbPerSec is bytes per second in MB (10^6 bytes).
func mbPerSec(bytes int64, d time.Duration) float64 {
	return float64(bytes) / 1e6 / d.Seconds()
}

func runBigPush(ctx context.Context, e *env, inst *instance) (map[string]float64, error) {
	b := e.bigBlob
	start := time.Now()
	if err := inst.client.pushBlob(ctx, inst.repo, b.blobSpec, b.reader()); err != nil {
		return nil, err
	}
	d := time.Since(start)
	inst.state["big-blob"] = true
	return map[string]float64{"mb_s": mbPerSec(b.Size, d)}, nil
}

func prepareBigPull(ctx context.Context, e *env, inst *instance) error {
	b := e.bigBlob
	if !inst.state["big-blob"] {
		if err := inst.client.pushBlob(ctx, inst.repo, b.blobSpec, b.reader()); err != nil {
			return err
		}
		inst.state["big-blob"] = true
		flush()
	}
	if e.firstPass {
		return verifyBlob(ctx, inst, b.blobSpec)
	}
	return nil
}

// verifyBlob downloads a blob and checks its digest, so a registry that returns wrong bytes
// fails the run instead of looking fast.
func verifyBlob(ctx context.Context, inst *instance, spec blobSpec) error {
	h := sha256.New()
	if err := inst.client.pullBlob(ctx, inst.repo, spec, h, make([]byte, 1<<20)); err != nil {
		return err
	}
	if got := digestOf(h); got != spec.Digest {
		return fmt.Errorf("%s: blob %s came back with digest %s", inst.target.Name, spec.Digest, got)
	}
	return nil
}

func digestOf(h hash.Hash) string { return "sha256:" + hex.EncodeToString(h.Sum(nil)) }

func runBigPull(ctx context.Context, e *env, inst *instance) (map[string]float64, error) {
	b := e.bigBlob
	buf := make([]byte, 1<<20)
	start := time.Now()
	if err := inst.client.pullBlob(ctx, inst.repo, b.blobSpec, discard{}, buf); err != nil {
		return nil, err
	}
	return map[string]float64{"mb_s": mbPerSec(b.Size, time.Since(start))}, nil
}

// parallel runs f(i) for i in [0, n) on workers goroutines and returns the first error; after
// an error the remaining items are skipped.
func parallel(ctx context.Context, n, workers int, f func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Go(func() {
			for i := range next {
				if ctx.Err() != nil {
					continue
				}
				if err := f(ctx, i); err != nil {
					cancel(err)
				}
			}
		})
	}
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	return context.Cause(ctx)
}

func runSmallPush(ctx context.Context, e *env, inst *instance) (map[string]float64, error) {
	posts := make([]time.Duration, len(e.small))
	puts := make([]time.Duration, len(e.small))
	start := time.Now()
	err := parallel(ctx, len(e.small), e.cfg.SmallConcurrency, func(ctx context.Context, i int) error {
		b := &e.small[i]
		var err error
		posts[i], puts[i], err = inst.client.pushBlobTimed(ctx, inst.repo, b.blobSpec, bytes.NewReader(b.data))
		return err
	})
	if err != nil {
		return nil, err
	}
	d := time.Since(start)
	inst.state["small-blobs"] = true
	slices.Sort(posts)
	slices.Sort(puts)
	return map[string]float64{
		"blobs_s":     float64(len(e.small)) / d.Seconds(),
		"post_p50_ms": ms(percentile(posts, 50)),
		"put_p50_ms":  ms(percentile(puts, 50)),
	}, nil
}

func prepareSmallPull(ctx context.Context, e *env, inst *instance) error {
	if !inst.state["small-blobs"] {
		if _, err := runSmallPush(ctx, e, inst); err != nil {
			return err
		}
		flush()
	}
	if e.firstPass {
		for i := 0; i < len(e.small); i += max(1, len(e.small)/10) {
			if err := verifyBlob(ctx, inst, e.small[i].blobSpec); err != nil {
				return err
			}
		}
	}
	return nil
}

func runSmallPull(ctx context.Context, e *env, inst *instance) (map[string]float64, error) {
	bufs := sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}
	start := time.Now()
	err := parallel(ctx, len(e.small), e.cfg.SmallConcurrency, func(ctx context.Context, i int) error {
		buf := bufs.Get().(*[]byte)
		defer bufs.Put(buf)
		return inst.client.pullBlob(ctx, inst.repo, e.small[i].blobSpec, discard{}, *buf)
	})
	if err != nil {
		return nil, err
	}
	return map[string]float64{"blobs_s": float64(len(e.small)) / time.Since(start).Seconds()}, nil
}

// manifestSet is a small image: a config blob, one layer blob and the OCI manifest naming them.
type manifestSet struct {
	config, layer smallBlob
	body          []byte
	spec          blobSpec
}

const (
	manifestTag      = "bench"
	ociManifestType  = "application/vnd.oci.image.manifest.v1+json"
	ociConfigType    = "application/vnd.oci.image.config.v1+json"
	ociLayerGzipType = "application/vnd.oci.image.layer.v1.tar+gzip"
)

func newManifestSet() *manifestSet {
	layers, _ := newSmallBlobs(1, 4096, 3)
	layer := layers[0]
	config := []byte(fmt.Sprintf(`{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":[%q]}}`, layer.Digest))
	sum := sha256.Sum256(config)
	cfg := smallBlob{blobSpec: blobSpec{Size: int64(len(config)), Digest: "sha256:" + hex.EncodeToString(sum[:])}, data: config}
	type descriptor struct {
		MediaType string `json:"mediaType"`
		Digest    string `json:"digest"`
		Size      int64  `json:"size"`
	}
	body, _ := json.Marshal(struct {
		SchemaVersion int          `json:"schemaVersion"`
		MediaType     string       `json:"mediaType"`
		Config        descriptor   `json:"config"`
		Layers        []descriptor `json:"layers"`
	}{2, ociManifestType,
		descriptor{ociConfigType, cfg.Digest, cfg.Size},
		[]descriptor{{ociLayerGzipType, layer.Digest, layer.Size}}})
	msum := sha256.Sum256(body)
	return &manifestSet{config: cfg, layer: layer, body: body,
		spec: blobSpec{Size: int64(len(body)), Digest: "sha256:" + hex.EncodeToString(msum[:])}}
}

func prepareManifest(ctx context.Context, e *env, inst *instance) error {
	if inst.state["manifest"] {
		return nil
	}
	m, c, repo := e.manifest, inst.client, inst.repo
	for _, b := range []smallBlob{m.config, m.layer} {
		if err := c.pushBlob(ctx, repo, b.blobSpec, bytes.NewReader(b.data)); err != nil {
			return err
		}
	}
	if err := c.putManifest(ctx, repo, manifestTag, ociManifestType, m.body); err != nil {
		return err
	}
	// Both requests once, so a wrong answer fails here with a clear message.
	for _, method := range []string{http.MethodHead, http.MethodGet} {
		if err := c.manifest(ctx, method, repo, manifestTag, m.spec); err != nil {
			return err
		}
	}
	inst.state["manifest"] = true
	return nil
}

// loadResult is what a fixed-duration load run measured.
type loadResult struct {
	Requests  int
	Duration  time.Duration
	Latencies []time.Duration // sorted
}

// load runs do on workers goroutines (do learns which, from 0) without pause for
// warmup+duration. Requests that start
// inside the measured window (after warmup) are counted and their latencies kept. The first
// error stops the run and is returned.
func load(ctx context.Context, workers int, warmup, duration time.Duration, do func(ctx context.Context, worker int) error) (loadResult, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	begin := time.Now()
	from, until := begin.Add(warmup), begin.Add(warmup+duration)
	perWorker := make([][]time.Duration, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			lat := make([]time.Duration, 0, 1<<14)
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(until) {
					break
				}
				if err := do(ctx, w); err != nil {
					cancel(err)
					break
				}
				if !t0.Before(from) {
					lat = append(lat, time.Since(t0))
				}
			}
			perWorker[w] = lat
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return loadResult{}, err
	}
	var all []time.Duration
	for _, l := range perWorker {
		all = append(all, l...)
	}
	slices.Sort(all)
	return loadResult{Requests: len(all), Duration: duration, Latencies: all}, nil
}

// percentile returns the p-th percentile (0 < p ≤ 100) of sorted latencies, nearest rank.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(float64(len(sorted))*p/100+0.999999999) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func runManifest(ctx context.Context, e *env, inst *instance, method string) (map[string]float64, error) {
	m, c, repo := e.manifest, inst.client, inst.repo
	conns := make([]*conn, e.cfg.ManifestConcurrency)
	for w := range conns {
		req, err := c.manifestRequest(ctx, method, repo, manifestTag)
		if err != nil {
			return nil, err
		}
		k, err := c.newConn(req)
		if err != nil {
			return nil, err
		}
		defer k.close()
		conns[w] = k
	}
	res, err := load(ctx, len(conns), e.cfg.Warmup, e.cfg.Duration, func(ctx context.Context, w int) error {
		resp, err := conns[w].roundTrip()
		if err != nil {
			return err
		}
		return c.checkManifest(resp, m.spec)
	})
	if err != nil {
		return nil, err
	}
	if res.Requests == 0 {
		return nil, fmt.Errorf("%s: no %s request finished inside the measured window", inst.target.Name, method)
	}
	return map[string]float64{
		"req_s":  float64(res.Requests) / res.Duration.Seconds(),
		"p50_ms": ms(percentile(res.Latencies, 50)),
		"p99_ms": ms(percentile(res.Latencies, 99)),
	}, nil
}

func runRSSUpload(ctx context.Context, e *env, inst *instance) (map[string]float64, error) {
	b := e.rssBlob
	pid := inst.pid
	idle, err := procStatusKiB(pid, "VmHWM")
	if err != nil {
		return nil, err
	}
	start := time.Now()
	if err := inst.client.pushBlob(ctx, inst.repo, b.blobSpec, b.reader()); err != nil {
		return nil, err
	}
	d := time.Since(start)
	peak, err := procStatusKiB(pid, "VmHWM")
	if err != nil {
		return nil, err
	}
	return map[string]float64{
		"peak_mib": float64(peak) / 1024,
		"idle_mib": float64(idle) / 1024,
		"mb_s":     mbPerSec(b.Size, d),
	}, nil
}
