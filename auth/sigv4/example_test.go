package sigv4_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/coffer-registry/coffer/auth/sigv4"
)

// How the API layer uses the verifier: verify, check the service the
// credential was scoped to, and map failures to the protocol's error form.
func ExampleVerifier() {
	now := time.Date(2026, 11, 24, 16, 25, 46, 0, time.UTC)
	keys := keyring{"AKIAIOSFODNN7EXAMPLE": {
		SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		Principal:       "arn:aws:iam::123456789012:user/alice",
	}}
	verifier := sigv4.NewVerifier(keys, sigv4.Options{Now: func() time.Time { return now }})

	// A client signs an ECR call.
	body := `{"repositoryName":"team/app"}`
	r, _ := http.NewRequest("POST", "http://registry.example/", strings.NewReader(body))
	r.Header.Set("X-Amz-Target", "AmazonEC2ContainerRegistry_V20150921.DescribeImages")
	creds := aws.Credentials{AccessKeyID: "AKIAIOSFODNN7EXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}
	_ = v4.NewSigner().SignHTTP(context.Background(), creds, r, sha256Hex([]byte(body)), "ecr", "us-east-1", now)

	res, err := verifier.Verify(r, []byte(body))
	if err == nil {
		err = res.RequireService("ecr")
	}
	fmt.Println(res.Principal, res.Region, err)

	// The same request with another body fails; the API layer writes the error.
	_, err = verifier.Verify(r, []byte(`{"repositoryName":"other"}`))
	var authErr *sigv4.Error
	if errors.As(err, &authErr) {
		fmt.Println(authErr.HTTPStatus(), authErr.Code(), authErr.JSONCode())
	}
	// Output:
	// arn:aws:iam::123456789012:user/alice us-east-1 <nil>
	// 403 SignatureDoesNotMatch InvalidSignatureException
}
