package server

import (
	"net/http"
	"time"

	"github.com/coffer-registry/coffer/gc"
	"github.com/coffer-registry/coffer/registry"
)

// compose builds the one handler every request enters, and the background workers.
//
// Routing by protocol (see design/ARCHITECTURE.md):
//
//	/v2/...                              OCI distribution API          package registry
//	POST / with X-Amz-Target: ...ECR...  ECR JSON 1.1 API              (not built yet)
//	POST / with Action=... (IAM, STS)    IAM / STS / Organizations     (not built yet)
//
// The AWS APIs join this mux when their packages exist; until then only /v2/ answers and
// every other path is 404.
func compose(cfg Config, data *Data) (http.Handler, []Worker, error) {
	mux := http.NewServeMux()
	mux.Handle("/v2/", registry.New(registry.Config{
		Blobs:        data.Blobs,
		Store:        data.Meta,
		Region:       cfg.Region,
		CreateOnPush: cfg.CreateOnPush,
		Logger:       cfg.Logger,
	}))

	var workers []Worker
	if cfg.GCInterval > 0 {
		collector := gc.New(gc.Config{
			Blobs:    data.Blobs,
			Store:    data.Meta,
			Interval: cfg.GCInterval,
			Grace:    graceOrMin(cfg.GCGrace),
			Logger:   cfg.Logger,
		})
		workers = append(workers, Worker{Name: "gc", Run: collector.Run})
	}
	return mux, workers, nil
}

// graceOrMin maps a grace of 0 ("none") to the smallest positive duration, since the
// collector reads 0 as "its default".
func graceOrMin(d time.Duration) time.Duration {
	if d <= 0 {
		return time.Nanosecond
	}
	return d
}
