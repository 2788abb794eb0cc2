package stsapi_test

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// BenchmarkGetCallerIdentityParallel drives GetCallerIdentity from 32 concurrent Go SDK
// clients (each signing with SigV4, each with its own keep-alive connection) over loopback
// against the real endpoint, authenticator and store, and reports requests per second.
//
//	go test -run '^$' -bench GetCallerIdentityParallel -benchtime 5000x ./stsapi
func BenchmarkGetCallerIdentityParallel(b *testing.B) {
	const clients = 32
	c := start(b)
	ctx := context.Background()
	stsClients := make([]*sts.Client, clients)
	for i := range stsClients {
		cfg := c.config(c.root)
		cfg.HTTPClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
		stsClients[i] = sts.NewFromConfig(cfg)
		if _, err := stsClients[i].GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
			b.Fatal(err)
		}
	}
	var next atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	b.ResetTimer()
	for _, client := range stsClients {
		wg.Add(1)
		go func(client *sts.Client) {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				out, err := client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
				if err != nil {
					failed.Store(err)
					return
				}
				if aws.ToString(out.Account) != c.mgmt {
					failed.Store(out.Account)
					return
				}
			}
		}(client)
	}
	wg.Wait()
	b.StopTimer()
	if v := failed.Load(); v != nil {
		b.Fatal(v)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}
