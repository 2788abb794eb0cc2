package ecrapi_test

import (
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
)

// BenchmarkBatchGetImageParallel: BatchGetImage by tag from 32 concurrent SDK clients (SigV4,
// one keep-alive connection each) through the real authenticator, authorizer (identity policy
// plus repository policy) and SQLite store, in requests per second.
//
//	go test -run '^$' -bench BatchGetImageParallel -benchtime 3000x ./ecrapi
func BenchmarkBatchGetImageParallel(b *testing.B) {
	const clients = 32
	c := start(b)
	admin := c.ecr(c.root)
	must[*ecr.CreateRepositoryOutput](b)(admin.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("bench")}))
	must[*ecr.SetRepositoryPolicyOutput](b)(admin.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{RepositoryName: aws.String("bench"),
		PolicyText: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"ecr:DeleteRepository"}]}`)}))
	img := newImage(b, "bench")
	must[*ecr.PutImageOutput](b)(img.push(b, admin, "bench", "v1"))
	reader := c.user(c.acct, "reader", allowDoc("ecr:BatchGetImage", c.repoARN(c.acct, "bench"), ""))

	apis := make([]*ecr.Client, clients)
	for i := range apis {
		apis[i] = ecr.NewFromConfig(aws.Config{Region: region, BaseEndpoint: aws.String(c.url), RetryMaxAttempts: 1,
			Credentials: credentials.StaticCredentialsProvider{Value: reader},
			HTTPClient:  &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}})
	}
	in := &ecr.BatchGetImageInput{RepositoryName: aws.String("bench"), ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("v1")}}}
	var next atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	b.ResetTimer()
	for _, api := range apis {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				out, err := api.BatchGetImage(ctx, in)
				if err != nil {
					failed.Store(err)
					return
				}
				if len(out.Images) != 1 {
					failed.Store(out.Failures)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	if v := failed.Load(); v != nil {
		b.Fatal(v)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}
