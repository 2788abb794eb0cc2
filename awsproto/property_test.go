package awsproto_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"reflect"
	"testing"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"pgregory.net/rapid"

	"github.com/coffer-registry/coffer/awsproto"
)

// wireText generates text with the characters that stress form and XML encoding (&, =, +,
// %, <, >, quotes, CR/LF/tab, non-ASCII) and none that XML cannot carry.
func wireText(minRunes int) *rapid.Generator[string] {
	runes := rapid.RuneFrom([]rune("&=+%<>\"' \r\n\t/:*?.é漢😀"), unicode.L, unicode.N, unicode.P, unicode.S)
	return rapid.StringOfN(runes, minRunes, 40, -1)
}

func optional[T any](t *rapid.T, label string, g *rapid.Generator[T]) *T {
	if rapid.Bool().Draw(t, label+"?") {
		v := g.Draw(t, label)
		return &v
	}
	return nil
}

// emptyAsNil treats a nil and an empty list the same, as the query protocol cannot tell
// them apart for every client.
func emptyAsNil[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

// TestQueryRoundTripProperty: whatever the IAM SDK's own query serializer sends for
// SimulateCustomPolicy decodes into an identical input, and the XML built from it parses back
// in the SDK to the same values.
func TestQueryRoundTripProperty(t *testing.T) {
	var got iam.SimulateCustomPolicyInput
	e := awsproto.NewEndpoint(awsproto.EndpointConfig{Logger: slog.New(slog.DiscardHandler)})
	awsproto.Handle(e, awsproto.IAM, "SimulateCustomPolicy", func(ctx context.Context, in *iam.SimulateCustomPolicyInput) (*iam.SimulateCustomPolicyOutput, error) {
		got = *in
		out := &iam.SimulateCustomPolicyOutput{Marker: in.Marker, IsTruncated: in.MaxItems != nil}
		for _, a := range in.ActionNames {
			r := iamtypes.EvaluationResult{EvalActionName: aws.String(a), EvalDecision: iamtypes.PolicyEvaluationDecisionTypeImplicitDeny,
				EvalDecisionDetails: map[string]iamtypes.PolicyEvaluationDecisionType{}}
			for _, c := range in.ContextEntries {
				r.MissingContextValues = append(r.MissingContextValues, c.ContextKeyValues...)
				r.EvalDecisionDetails[aws.ToString(c.ContextKeyName)] = iamtypes.PolicyEvaluationDecisionTypeAllowed
			}
			out.EvaluationResults = append(out.EvaluationResults, r)
		}
		return out, nil
	})
	srv := httptest.NewServer(e)
	defer srv.Close()
	client := iam.NewFromConfig(sdkConfig(srv.URL))

	rapid.Check(t, func(t *rapid.T) {
		in := iam.SimulateCustomPolicyInput{
			PolicyInputList: rapid.SliceOfN(wireText(1), 1, 3).Draw(t, "policies"),
			ActionNames:     rapid.SliceOfN(wireText(1), 1, 3).Draw(t, "actions"),
			ResourceArns:    rapid.SliceOfN(wireText(0), 0, 2).Draw(t, "resources"),
			CallerArn:       optional(t, "caller", wireText(0)),
			Marker:          optional(t, "marker", wireText(1)),
			MaxItems:        optional(t, "maxItems", rapid.Int32Range(1, 1000)),
		}
		for i := range rapid.IntRange(0, 3).Draw(t, "entries") {
			in.ContextEntries = append(in.ContextEntries, iamtypes.ContextEntry{
				ContextKeyName:   aws.String(wireText(1).Draw(t, "key")),
				ContextKeyType:   iamtypes.ContextKeyTypeEnum(rapid.SampledFrom(iamtypes.ContextKeyTypeEnum("").Values()).Draw(t, "type")),
				ContextKeyValues: rapid.SliceOfN(wireText(1), 0, 3).Draw(t, "values"),
			})
			_ = i
		}
		out, err := client.SimulateCustomPolicy(context.Background(), &in)
		if err != nil {
			t.Fatalf("call: %v", err)
		}
		want := in
		want.ResourceArns = emptyAsNil(want.ResourceArns)
		got.ResourceArns = emptyAsNil(got.ResourceArns)
		for i := range want.ContextEntries {
			want.ContextEntries[i].ContextKeyValues = emptyAsNil(want.ContextEntries[i].ContextKeyValues)
			got.ContextEntries[i].ContextKeyValues = emptyAsNil(got.ContextEntries[i].ContextKeyValues)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("decoded\n%+v\nsent\n%+v", got, want)
		}
		if len(out.EvaluationResults) != len(in.ActionNames) || aws.ToString(out.Marker) != aws.ToString(in.Marker) ||
			out.IsTruncated != (in.MaxItems != nil) {
			t.Fatalf("parsed %+v", out)
		}
		for i, r := range out.EvaluationResults {
			if aws.ToString(r.EvalActionName) != in.ActionNames[i] {
				t.Fatalf("action %q came back as %q", in.ActionNames[i], aws.ToString(r.EvalActionName))
			}
			var values []string
			for _, c := range in.ContextEntries {
				values = append(values, c.ContextKeyValues...)
				if r.EvalDecisionDetails[aws.ToString(c.ContextKeyName)] != iamtypes.PolicyEvaluationDecisionTypeAllowed {
					t.Fatalf("map entry %q lost: %v", aws.ToString(c.ContextKeyName), r.EvalDecisionDetails)
				}
			}
			if !reflect.DeepEqual(emptyAsNil(r.MissingContextValues), emptyAsNil(values)) {
				t.Fatalf("values %q came back as %q", values, r.MissingContextValues)
			}
		}
	})
}

// TestJSONRoundTripProperty does the same for ECR's JSON protocol with PutImage.
func TestJSONRoundTripProperty(t *testing.T) {
	var got ecr.PutImageInput
	e := awsproto.NewEndpoint(awsproto.EndpointConfig{Logger: slog.New(slog.DiscardHandler)})
	awsproto.Handle(e, awsproto.ECR, "PutImage", func(ctx context.Context, in *ecr.PutImageInput) (*ecr.PutImageOutput, error) {
		got = *in
		return &ecr.PutImageOutput{Image: &ecrtypes.Image{RepositoryName: in.RepositoryName, RegistryId: in.RegistryId,
			ImageManifest: in.ImageManifest, ImageManifestMediaType: in.ImageManifestMediaType,
			ImageId: &ecrtypes.ImageIdentifier{ImageTag: in.ImageTag, ImageDigest: in.ImageDigest}}}, nil
	})
	srv := httptest.NewServer(e)
	defer srv.Close()
	client := ecr.NewFromConfig(sdkConfig(srv.URL))

	rapid.Check(t, func(t *rapid.T) {
		in := ecr.PutImageInput{
			RepositoryName:         aws.String(wireText(1).Draw(t, "repo")),
			ImageManifest:          aws.String(wireText(1).Draw(t, "manifest")),
			ImageManifestMediaType: optional(t, "mediaType", wireText(1)),
			ImageTag:               optional(t, "tag", wireText(1)),
			ImageDigest:            optional(t, "digest", wireText(1)),
			RegistryId:             optional(t, "registry", rapid.StringMatching(`[0-9]{12}`)),
		}
		out, err := client.PutImage(context.Background(), &in)
		if err != nil {
			t.Fatalf("call: %v", err)
		}
		if !reflect.DeepEqual(got, in) {
			t.Fatalf("decoded\n%+v\nsent\n%+v", got, in)
		}
		img := out.Image
		if aws.ToString(img.ImageManifest) != aws.ToString(in.ImageManifest) || aws.ToString(img.RepositoryName) != aws.ToString(in.RepositoryName) ||
			aws.ToString(img.ImageId.ImageTag) != aws.ToString(in.ImageTag) || aws.ToString(img.ImageManifestMediaType) != aws.ToString(in.ImageManifestMediaType) {
			t.Fatalf("parsed %+v from %+v", img, in)
		}
	})
}
