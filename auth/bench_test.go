package auth_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/coffer-registry/coffer/auth"
	"github.com/coffer-registry/coffer/awsproto"
)

// BenchmarkAuthenticate is the authentication of one signed ECR API call with a key the
// cache knows: verify the signature, check the scope, put the caller in the context.
func BenchmarkAuthenticate(b *testing.B) {
	w := newWorld(b)
	body := `{"repositoryName":"app","imageIds":[{"imageTag":"latest"}]}`
	r, err := http.NewRequest("POST", w.srv.URL+"/", strings.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/x-amz-json-1.1")
	r.Header.Set("X-Amz-Target", "AmazonEC2ContainerRegistry_V20150921.BatchGetImage")
	creds := aws.Credentials{AccessKeyID: w.rootKey.ID, SecretAccessKey: w.rootKey.Secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, sha256Hex(body), "ecr", "eu-west-1", time.Now()); err != nil {
		b.Fatal(err)
	}
	call := awsproto.Call{Route: awsproto.Route{Protocol: awsproto.ProtocolJSON, Service: awsproto.ECR,
		Operation: "BatchGetImage", Body: []byte(body)}}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		got, err := w.auth.Authenticate(ctx, r, call)
		if err != nil {
			b.Fatal(err)
		}
		if auth.CallerFrom(got) == nil {
			b.Fatal("no caller")
		}
	}
}
