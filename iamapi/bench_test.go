package iamapi_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/iam"
)

// BenchmarkSimulateCustomPolicy measures one corpus case through the whole path: SDK
// signing, HTTP on loopback, SigV4 verification, authorization, decoding, the engine and
// the XML answer.
func BenchmarkSimulateCustomPolicy(b *testing.B) {
	w := newWorld(b)
	ctx := context.Background()
	cases := loadCorpus(b)
	inputs := make([]*sdk.SimulateCustomPolicyInput, len(cases))
	for i := range cases {
		inputs[i] = simulateInput(&cases[i])
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := w.root.SimulateCustomPolicy(ctx, inputs[i%len(inputs)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetUser measures a small authorized read by an IAM user whose policy allows it.
func BenchmarkGetUser(b *testing.B) {
	w := newWorld(b)
	ctx := context.Background()
	alice := w.userClient(b, "alice")
	if _, err := w.root.PutUserPolicy(ctx, &sdk.PutUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("self"),
		PolicyDocument: aws.String(viewOwnPermissions)}); err != nil {
		b.Fatal(err)
	}
	in := &sdk.GetUserInput{}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := alice.GetUser(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}
