package awsproto

import (
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
)

func BenchmarkDecodeQuery(b *testing.B) {
	raw := "Action=SimulateCustomPolicy&Version=2010-05-08&UserName=u" +
		"&Tags.member.1.Key=a&Tags.member.1.Value=1&Tags.member.2.Key=b&Tags.member.2.Value=2" +
		"&ContextEntries.member.1.ContextKeyName=aws%3ASourceIp&ContextEntries.member.1.ContextKeyType=ip" +
		"&ContextEntries.member.1.ContextKeyValues.member.1=10.0.0.1&Name.1=x&Name.2=y&MaxItems=100"
	q, _ := url.ParseQuery(raw)
	b.ReportAllocs()
	for b.Loop() {
		var in qInput
		if err := DecodeQuery(q, &in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarshalQueryResponse(b *testing.B) {
	users := make([]xUser, 100)
	for i := range users {
		users[i] = xUser{UserName: "user", CreateDate: time.Unix(1700000000, 0), Tags: []qTag{{"k", "v"}}}
	}
	out := &xOutput{Users: users, Marker: aws.String("m")}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := MarshalQueryResponse(IAM, "ListUsers", "req", out); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarshalJSONResponse(b *testing.B) {
	images := make([]ecrtypes.Image, 20)
	for i := range images {
		images[i] = ecrtypes.Image{RegistryId: aws.String("123456789012"), RepositoryName: aws.String("team/app"),
			ImageId:       &ecrtypes.ImageIdentifier{ImageDigest: aws.String("sha256:" + strings.Repeat("a", 64)), ImageTag: aws.String("v1")},
			ImageManifest: aws.String(strings.Repeat(`{"x":1}`, 100))}
	}
	out := &ecr.BatchGetImageOutput{Images: images}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := MarshalJSONResponse(out); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkClassifyQuery(b *testing.B) {
	body := "Action=CreateUser&Version=2010-05-08&UserName=ci-bot&Tags.member.1.Key=a&Tags.member.1.Value=b"
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest("POST", "/", strings.NewReader(body))
		r.Header.Set("Content-Type", formContentType)
		r.Header.Set("Authorization", iamAuth)
		if rt, err := Classify(r, Limits{}); err != nil || rt.Service != IAM {
			b.Fatal(err)
		}
	}
}
