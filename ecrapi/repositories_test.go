package ecrapi_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/coffer-registry/coffer/ecrapi"
)

var ctx = context.Background()

// TestRepositories drives the repository operations with the Go SDK as the oracle of the
// wire shapes: settings stored and reported, pagination, tags, policies and their errors.
func TestRepositories(t *testing.T) {
	c := start(t)
	api := c.ecr(c.root)

	created := must[*ecr.CreateRepositoryOutput](t)(api.CreateRepository(ctx, &ecr.CreateRepositoryInput{
		RepositoryName:     aws.String("team/app"),
		ImageTagMutability: types.ImageTagMutabilityImmutableWithExclusion,
		ImageTagMutabilityExclusionFilters: []types.ImageTagMutabilityExclusionFilter{
			{Filter: aws.String("latest"), FilterType: types.ImageTagMutabilityExclusionFilterTypeWildcard},
			{Filter: aws.String("dev-*"), FilterType: types.ImageTagMutabilityExclusionFilterTypeWildcard}},
		ImageScanningConfiguration: &types.ImageScanningConfiguration{ScanOnPush: true},
		EncryptionConfiguration:    &types.EncryptionConfiguration{EncryptionType: types.EncryptionTypeKms, KmsKey: aws.String("alias/app")},
		Tags:                       []types.Tag{{Key: aws.String("team"), Value: aws.String("blue")}},
	}))
	r := created.Repository
	if aws.ToString(r.RepositoryArn) != c.repoARN(c.acct, "team/app") || aws.ToString(r.RegistryId) != c.acct ||
		aws.ToString(r.RepositoryUri) != c.host+"/"+c.acct+"/team/app" || r.CreatedAt == nil ||
		r.ImageTagMutability != types.ImageTagMutabilityImmutableWithExclusion || len(r.ImageTagMutabilityExclusionFilters) != 2 ||
		!r.ImageScanningConfiguration.ScanOnPush || r.EncryptionConfiguration.EncryptionType != types.EncryptionTypeKms ||
		aws.ToString(r.EncryptionConfiguration.KmsKey) != "alias/app" {
		t.Fatalf("created %+v", r)
	}
	_, err := api.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("team/app")})
	wantError(t, err, "RepositoryAlreadyExistsException",
		"The repository with name 'team/app' already exists in the registry with id '"+c.acct+"'")
	_, err = api.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("Bad_Name")})
	wantError(t, err, "InvalidParameterException", "repositoryName")
	_, err = api.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("x1"), ImageTagMutability: types.ImageTagMutabilityMutableWithExclusion})
	wantError(t, err, "InvalidParameterException", "ImageTagMutabilityExclusionFilters can't be null")
	_, err = api.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("x2"),
		Tags: []types.Tag{{Key: aws.String(strings.Repeat("k", 129)), Value: aws.String("v")}}})
	wantError(t, err, "InvalidTagParameterException", "tags.1.member.key")
	var many []types.Tag
	for i := range 51 {
		many = append(many, types.Tag{Key: aws.String(fmt.Sprint("k", i)), Value: aws.String("v")})
	}
	_, err = api.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("x3"), Tags: many})
	wantError(t, err, "TooManyTagsException", "50")

	// Pagination over DescribeRepositories.
	for _, name := range []string{"a1", "a2", "a3", "a4"} {
		must[*ecr.CreateRepositoryOutput](t)(api.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(name)}))
	}
	var names []string
	pages := ecr.NewDescribeRepositoriesPaginator(api, &ecr.DescribeRepositoriesInput{MaxResults: aws.Int32(2)})
	npages := 0
	for pages.HasMorePages() {
		page := must[*ecr.DescribeRepositoriesOutput](t)(pages.NextPage(ctx))
		npages++
		for _, r := range page.Repositories {
			names = append(names, aws.ToString(r.RepositoryName))
		}
	}
	if strings.Join(names, ",") != "a1,a2,a3,a4,team/app" || npages != 3 {
		t.Fatalf("paged %v in %d pages", names, npages)
	}
	_, err = api.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{"a1", "nope"}})
	wantError(t, err, "RepositoryNotFoundException", "The repository with name 'nope' does not exist in the registry with id '"+c.acct+"'")

	// Tag mutability.
	mut := must[*ecr.PutImageTagMutabilityOutput](t)(api.PutImageTagMutability(ctx, &ecr.PutImageTagMutabilityInput{
		RepositoryName: aws.String("a1"), ImageTagMutability: types.ImageTagMutabilityImmutable}))
	if mut.ImageTagMutability != types.ImageTagMutabilityImmutable || aws.ToString(mut.RegistryId) != c.acct {
		t.Fatalf("mutability %+v", mut)
	}
	desc := must[*ecr.DescribeRepositoriesOutput](t)(api.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{"a1"}}))
	if desc.Repositories[0].ImageTagMutability != types.ImageTagMutabilityImmutable {
		t.Fatalf("described %+v", desc.Repositories[0])
	}

	// Resource tags.
	arn := aws.String(c.repoARN(c.acct, "team/app"))
	must[*ecr.TagResourceOutput](t)(api.TagResource(ctx, &ecr.TagResourceInput{ResourceArn: arn,
		Tags: []types.Tag{{Key: aws.String("env"), Value: aws.String("prod")}, {Key: aws.String("team"), Value: aws.String("red")}}}))
	must[*ecr.UntagResourceOutput](t)(api.UntagResource(ctx, &ecr.UntagResourceInput{ResourceArn: arn, TagKeys: []string{"env"}}))
	tags := must[*ecr.ListTagsForResourceOutput](t)(api.ListTagsForResource(ctx, &ecr.ListTagsForResourceInput{ResourceArn: arn}))
	if len(tags.Tags) != 1 || aws.ToString(tags.Tags[0].Key) != "team" || aws.ToString(tags.Tags[0].Value) != "red" {
		t.Fatalf("tags %+v", tags.Tags)
	}
	_, err = api.TagResource(ctx, &ecr.TagResourceInput{ResourceArn: arn, Tags: many})
	wantError(t, err, "TooManyTagsException", "maximum of 50 tags")
	_, err = api.ListTagsForResource(ctx, &ecr.ListTagsForResourceInput{ResourceArn: aws.String("arn:aws:s3:::bucket")})
	wantError(t, err, "InvalidParameterException", "resourceArn")

	// Repository policy.
	_, err = api.GetRepositoryPolicy(ctx, &ecr.GetRepositoryPolicyInput{RepositoryName: aws.String("a1")})
	wantError(t, err, "RepositoryPolicyNotFoundException",
		"Repository policy does not exist for the repository with name 'a1' in the registry with id '"+c.acct+"'")
	doc := `{"Version":"2012-10-17","Statement":[{"Sid":"Pull","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + c.acct +
		`:root"},"Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"]}]}`
	set := must[*ecr.SetRepositoryPolicyOutput](t)(api.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{RepositoryName: aws.String("a1"), PolicyText: aws.String(doc)}))
	if aws.ToString(set.PolicyText) != doc {
		t.Fatalf("set %+v", set)
	}
	got := must[*ecr.GetRepositoryPolicyOutput](t)(api.GetRepositoryPolicy(ctx, &ecr.GetRepositoryPolicyInput{RepositoryName: aws.String("a1")}))
	if aws.ToString(got.PolicyText) != doc || aws.ToString(got.RepositoryName) != "a1" {
		t.Fatalf("got %+v", got)
	}
	_, err = api.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{RepositoryName: aws.String("a1"), PolicyText: aws.String(`{"Statement":"nope"}`)})
	wantError(t, err, "InvalidParameterException", "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid repository policy provided'")
	_, err = api.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{RepositoryName: aws.String("a1"), PolicyText: aws.String(strings.Repeat(" ", 10241))})
	wantError(t, err, "InvalidParameterException", "10240")
	del := must[*ecr.DeleteRepositoryPolicyOutput](t)(api.DeleteRepositoryPolicy(ctx, &ecr.DeleteRepositoryPolicyInput{RepositoryName: aws.String("a1")}))
	if aws.ToString(del.PolicyText) != doc {
		t.Fatalf("deleted %+v", del)
	}
	_, err = api.DeleteRepositoryPolicy(ctx, &ecr.DeleteRepositoryPolicyInput{RepositoryName: aws.String("a1")})
	wantError(t, err, "RepositoryPolicyNotFoundException", "'a1'")

	// A policy that locks the caller out of the next SetRepositoryPolicy needs force.
	lockout := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"ecr:SetRepositoryPolicy"}]}`
	_, err = api.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{RepositoryName: aws.String("a3"), PolicyText: aws.String(lockout)})
	wantError(t, err, "InvalidParameterException", "use force")
	must[*ecr.SetRepositoryPolicyOutput](t)(api.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{RepositoryName: aws.String("a3"),
		PolicyText: aws.String(lockout), Force: true}))
	_, err = api.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{RepositoryName: aws.String("a3"), PolicyText: aws.String(doc), Force: true})
	wantError(t, err, "AccessDeniedException", "ecr:SetRepositoryPolicy")

	// Registry policy and registry description.
	_, err = api.GetRegistryPolicy(ctx, &ecr.GetRegistryPolicyInput{})
	wantError(t, err, "RegistryPolicyNotFoundException", "Registry policy does not exist in the registry with id '"+c.acct+"'")
	regDoc := `{"Version":"2012-10-17","Statement":[{"Sid":"Create","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + c.acct +
		`:root"},"Action":["ecr:CreateRepository"],"Resource":"arn:aws:ecr:` + region + `:` + c.acct + `:repository/*"}]}`
	must[*ecr.PutRegistryPolicyOutput](t)(api.PutRegistryPolicy(ctx, &ecr.PutRegistryPolicyInput{PolicyText: aws.String(regDoc)}))
	gotReg := must[*ecr.GetRegistryPolicyOutput](t)(api.GetRegistryPolicy(ctx, &ecr.GetRegistryPolicyInput{}))
	if aws.ToString(gotReg.PolicyText) != regDoc || aws.ToString(gotReg.RegistryId) != c.acct {
		t.Fatalf("registry policy %+v", gotReg)
	}
	_, err = api.PutRegistryPolicy(ctx, &ecr.PutRegistryPolicyInput{PolicyText: aws.String(`[]`)})
	wantError(t, err, "InvalidParameterException", "'Invalid registry policy provided'")
	must[*ecr.DeleteRegistryPolicyOutput](t)(api.DeleteRegistryPolicy(ctx, &ecr.DeleteRegistryPolicyInput{}))
	_, err = api.DeleteRegistryPolicy(ctx, &ecr.DeleteRegistryPolicyInput{})
	wantError(t, err, "RegistryPolicyNotFoundException", c.acct)
	reg := must[*ecr.DescribeRegistryOutput](t)(api.DescribeRegistry(ctx, &ecr.DescribeRegistryInput{}))
	if aws.ToString(reg.RegistryId) != c.acct || reg.ReplicationConfiguration == nil {
		t.Fatalf("registry %+v", reg)
	}

	// Deletion.
	gone := must[*ecr.DeleteRepositoryOutput](t)(api.DeleteRepository(ctx, &ecr.DeleteRepositoryInput{RepositoryName: aws.String("a2")}))
	if aws.ToString(gone.Repository.RepositoryName) != "a2" {
		t.Fatalf("deleted %+v", gone.Repository)
	}
	_, err = api.DeleteRepository(ctx, &ecr.DeleteRepositoryInput{RepositoryName: aws.String("a2")})
	wantError(t, err, "RepositoryNotFoundException", "'a2'")
}

// TestQuotas: ECR's service quotas answer LimitExceededException.
func TestQuotas(t *testing.T) {
	c := startWith(t, ecrapi.Quotas{Repositories: 2, LayerParts: 2})
	api := c.ecr(c.root)
	for _, name := range []string{"q1", "q2"} {
		must[*ecr.CreateRepositoryOutput](t)(api.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(name)}))
	}
	_, err := api.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("q3")})
	wantError(t, err, "LimitExceededException", "service limit")
	up := must[*ecr.InitiateLayerUploadOutput](t)(api.InitiateLayerUpload(ctx, &ecr.InitiateLayerUploadInput{RepositoryName: aws.String("q1")}))
	for i := range int64(3) {
		_, err = api.UploadLayerPart(ctx, &ecr.UploadLayerPartInput{RepositoryName: aws.String("q1"), UploadId: up.UploadId,
			PartFirstByte: aws.Int64(i), PartLastByte: aws.Int64(i), LayerPartBlob: []byte{'x'}})
		if i < 2 && err != nil {
			t.Fatal(err)
		}
	}
	wantError(t, err, "LimitExceededException", "service limit")
}
