package ecrapi_test

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
)

// TestAuthorization: every operation is authorized as its ECR action on the repository ARN,
// with the repository policy, tags as condition keys, and cross-account grants.
func TestAuthorization(t *testing.T) {
	c := start(t)
	admin := c.ecr(c.root)
	limited := c.ecr(c.user(c.acct, "limited", allowDoc("ecr:*", c.repoARN(c.acct, "my-repo"), "")))

	must[*ecr.CreateRepositoryOutput](t)(limited.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("my-repo")}))
	_, err := limited.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("other")})
	wantError(t, err, "AccessDeniedException", "User: arn:aws:iam::"+c.acct+":user/limited is not authorized to perform: ecr:CreateRepository on resource: "+c.repoARN(c.acct, "other"))
	must[*ecr.CreateRepositoryOutput](t)(admin.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("other")}))
	_, err = limited.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{"other"}})
	wantError(t, err, "AccessDeniedException", "ecr:DescribeRepositories")
	_, err = limited.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{})
	wantError(t, err, "AccessDeniedException", c.repoARN(c.acct, "*"))
	must[*ecr.DescribeRepositoriesOutput](t)(limited.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{"my-repo"}}))
	// A missing repository the caller may not touch is denied, not reported missing.
	_, err = limited.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: aws.String("ghost")})
	wantError(t, err, "AccessDeniedException", "ecr:ListImages")
	_, err = limited.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: aws.String("my-repo"), RegistryId: aws.String("999999999999")})
	wantError(t, err, "AccessDeniedException", "ecr:ListImages")

	// An explicit Deny in the repository policy beats the identity policy's Allow.
	must[*ecr.SetRepositoryPolicyOutput](t)(admin.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{RepositoryName: aws.String("my-repo"),
		PolicyText: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"ecr:ListImages"}]}`)}))
	_, err = limited.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: aws.String("my-repo")})
	wantError(t, err, "AccessDeniedException", "explicit deny in a resource-based policy")
	must[*ecr.DescribeImagesOutput](t)(limited.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("my-repo")}))

	// Tags: aws:RequestTag/K and aws:TagKeys on creation, ecr:ResourceTag/K afterwards.
	tagger := c.ecr(c.user(c.acct, "tagger", `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":["ecr:CreateRepository","ecr:TagResource"],"Resource":"*","Condition":{"StringEquals":{"aws:RequestTag/team":"blue"},"ForAllValues:StringEquals":{"aws:TagKeys":["team"]}}},
		{"Effect":"Allow","Action":"ecr:DescribeRepositories","Resource":"*","Condition":{"StringEquals":{"ecr:ResourceTag/team":"blue"}}},
		{"Effect":"Allow","Action":"ecr:ListImages","Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/team":"blue"}}}]}`))
	_, err = tagger.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("red"),
		Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("red")}}})
	wantError(t, err, "AccessDeniedException", "ecr:CreateRepository")
	_, err = tagger.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("blue2"),
		Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("blue")}, {Key: aws.String("cost"), Value: aws.String("x")}}})
	wantError(t, err, "AccessDeniedException", "ecr:CreateRepository")
	must[*ecr.CreateRepositoryOutput](t)(tagger.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("blue"),
		Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("blue")}}}))
	must[*ecr.DescribeRepositoriesOutput](t)(tagger.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{"blue"}}))
	must[*ecr.ListImagesOutput](t)(tagger.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: aws.String("blue")}))
	_, err = tagger.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{"other"}})
	wantError(t, err, "AccessDeniedException", "ecr:DescribeRepositories")

	// Cross-account: B's identity policy alone is not enough; A's repository policy grant is.
	b := c.account("team-b")
	deployer := c.ecr(c.user(b, "deployer", allowDoc("ecr:DescribeImages", "*", "")))
	_, err = deployer.DescribeImages(ctx, &ecr.DescribeImagesInput{RegistryId: aws.String(c.acct), RepositoryName: aws.String("other")})
	wantError(t, err, "AccessDeniedException", "because no resource-based policy allows the ecr:DescribeImages action")
	must[*ecr.SetRepositoryPolicyOutput](t)(admin.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{RepositoryName: aws.String("other"),
		PolicyText: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + b + `:user/deployer"},"Action":"ecr:DescribeImages"}]}`)}))
	must[*ecr.DescribeImagesOutput](t)(deployer.DescribeImages(ctx, &ecr.DescribeImagesInput{RegistryId: aws.String(c.acct), RepositoryName: aws.String("other")}))
	// ... and B's own policies still have to allow it.
	stranger := c.ecr(c.user(b, "stranger", ""))
	_, err = stranger.DescribeImages(ctx, &ecr.DescribeImagesInput{RegistryId: aws.String(c.acct), RepositoryName: aws.String("other")})
	wantError(t, err, "AccessDeniedException", "ecr:DescribeImages")
	// Without registryId the caller's own registry is meant.
	_, err = deployer.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("other")})
	wantError(t, err, "RepositoryNotFoundException", "in the registry with id '"+b+"'")

	// The registry policy grants and denies beside the repository policy (ECR's V2 scope).
	must[*ecr.CreateRepositoryOutput](t)(admin.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("shared/one")}))
	_, err = deployer.DescribeImages(ctx, &ecr.DescribeImagesInput{RegistryId: aws.String(c.acct), RepositoryName: aws.String("shared/one")})
	wantError(t, err, "AccessDeniedException", "ecr:DescribeImages")
	must[*ecr.PutRegistryPolicyOutput](t)(admin.PutRegistryPolicy(ctx, &ecr.PutRegistryPolicyInput{PolicyText: aws.String(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + b + `:root"},"Action":"ecr:DescribeImages","Resource":"` + c.repoARN(c.acct, "shared/*") + `"},
		{"Effect":"Deny","Principal":"*","Action":"ecr:ListImages","Resource":"` + c.repoARN(c.acct, "*") + `"}]}`)}))
	must[*ecr.DescribeImagesOutput](t)(deployer.DescribeImages(ctx, &ecr.DescribeImagesInput{RegistryId: aws.String(c.acct), RepositoryName: aws.String("shared/one")}))
	must[*ecr.DescribeImagesOutput](t)(deployer.DescribeImages(ctx, &ecr.DescribeImagesInput{RegistryId: aws.String(c.acct), RepositoryName: aws.String("other")}))
	_, err = admin.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: aws.String("other")})
	wantError(t, err, "AccessDeniedException", "explicit deny in a resource-based policy")
	must[*ecr.DeleteRegistryPolicyOutput](t)(admin.DeleteRegistryPolicy(ctx, &ecr.DeleteRegistryPolicyInput{}))
	must[*ecr.ListImagesOutput](t)(admin.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: aws.String("other")}))

	// Registry-wide actions need "*".
	_, err = limited.DescribeRegistry(ctx, &ecr.DescribeRegistryInput{})
	wantError(t, err, "AccessDeniedException", "ecr:DescribeRegistry on resource: *")
}

// TestGetAuthorizationToken: the token is base64 "AWS:<password>", valid 12 hours, standing
// for the caller; without ecr:GetAuthorizationToken there is none.
func TestGetAuthorizationToken(t *testing.T) {
	c := start(t)
	pusher := c.ecr(c.user(c.acct, "pusher", allowDoc("ecr:GetAuthorizationToken", "*", "")))
	out := must[*ecr.GetAuthorizationTokenOutput](t)(pusher.GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{}))
	if len(out.AuthorizationData) != 1 {
		t.Fatalf("data %+v", out.AuthorizationData)
	}
	data := out.AuthorizationData[0]
	raw, err := base64.StdEncoding.DecodeString(aws.ToString(data.AuthorizationToken))
	if err != nil {
		t.Fatal(err)
	}
	user, password, ok := strings.Cut(string(raw), ":")
	if !ok || user != "AWS" {
		t.Fatalf("token %q", raw)
	}
	caller, err := c.tokens.Verify(ctx, password)
	if err != nil {
		t.Fatal(err)
	}
	if caller.Principal.ARN != "arn:aws:iam::"+c.acct+":user/pusher" {
		t.Fatalf("token stands for %s", caller.Principal.ARN)
	}
	if d := time.Until(aws.ToTime(data.ExpiresAt)); d < 11*time.Hour || d > 12*time.Hour+time.Minute {
		t.Fatalf("expires in %v", d)
	}
	if aws.ToString(data.ProxyEndpoint) != "http://"+c.host {
		t.Fatalf("proxy endpoint %s", aws.ToString(data.ProxyEndpoint))
	}
	nobody := c.ecr(c.user(c.acct, "nobody", ""))
	_, err = nobody.GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{})
	wantError(t, err, "AccessDeniedException", "ecr:GetAuthorizationToken on resource: *")
}
