package iamapi_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/coffer-registry/coffer/internal/policycases"
)

// corpusCase is one case of the policy corpus.
type corpusCase = policycases.Case

func loadCorpus(t testing.TB) []corpusCase {
	t.Helper()
	var all []corpusCase
	for _, name := range policycases.Files {
		all = append(all, policycases.Load(t, name)...)
	}
	if len(all) < 2000 {
		t.Fatalf("the corpus holds only %d cases", len(all))
	}
	return all
}

// simulateInput is a case as SimulateCustomPolicy takes it.
func simulateInput(c *corpusCase) *sdk.SimulateCustomPolicyInput {
	in := &sdk.SimulateCustomPolicyInput{PolicyInputList: c.PolicyInputList, PermissionsBoundaryPolicyInputList: c.PermissionsBoundaryPolicyInputList,
		ActionNames: []string{c.ActionName}, ResourceArns: []string{c.ResourceArn}, CallerArn: aws.String(c.CallerArn),
		ResourceOwner: aws.String(c.ResourceOwner)}
	if in.PolicyInputList == nil {
		in.PolicyInputList = []string{}
	}
	if c.ResourcePolicy != "" {
		in.ResourcePolicy = aws.String(c.ResourcePolicy)
	}
	for _, e := range c.ContextEntries {
		in.ContextEntries = append(in.ContextEntries, iamtypes.ContextEntry{ContextKeyName: aws.String(e.ContextKeyName),
			ContextKeyType: iamtypes.ContextKeyTypeEnum(e.ContextKeyType), ContextKeyValues: e.ContextKeyValues})
	}
	return in
}

// Every case of both corpora, sent over HTTP through SimulateCustomPolicy, gets the corpus's decision.
func TestSimulateCustomPolicyCorpus(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	failures := 0
	for _, c := range loadCorpus(t) {
		out, err := w.root.SimulateCustomPolicy(ctx, simulateInput(&c))
		if err != nil {
			t.Errorf("%s: %v", c.ID, err)
			failures++
		} else if len(out.EvaluationResults) != 1 || string(out.EvaluationResults[0].EvalDecision) != c.EvalDecision {
			t.Errorf("%s: decided %+v, corpus says %s", c.ID, out.EvaluationResults, c.EvalDecision)
			failures++
		} else if r := out.EvaluationResults[0]; c.EvalDecision != "implicitDeny" && len(r.MatchedStatements) == 0 {
			t.Errorf("%s: %s without a matched statement", c.ID, c.EvalDecision)
			failures++
		}
		if failures > 20 {
			t.Fatal("too many failures")
		}
	}
}

func TestSimulatorDetails(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	identity := "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\"Sid\": \"Pull\", \"Effect\": \"Allow\", \"Action\": \"ecr:BatchGetImage\", \"Resource\": \"*\",\n     \"Condition\": {\"StringEquals\": {\"aws:PrincipalTag/team\": \"ml\"}}},\n    {\"Sid\": \"NoDelete\", \"Effect\": \"Deny\", \"Action\": \"ecr:BatchDeleteImage\", \"Resource\": \"*\"}\n  ]\n}"
	repo := "arn:aws:ecr:us-east-1:" + w.acct + ":repository/app"
	out := must[*sdk.SimulateCustomPolicyOutput](t)(w.root.SimulateCustomPolicy(ctx, &sdk.SimulateCustomPolicyInput{
		PolicyInputList: []string{identity}, ActionNames: []string{"ecr:BatchGetImage", "ecr:BatchDeleteImage", "ecr:PutImage"},
		ResourceArns: []string{repo}}))
	if len(out.EvaluationResults) != 3 {
		t.Fatalf("%d results", len(out.EvaluationResults))
	}
	pull, del, put := out.EvaluationResults[0], out.EvaluationResults[1], out.EvaluationResults[2]
	// No context entries: the tag condition cannot match, and the key is reported missing.
	if pull.EvalDecision != iamtypes.PolicyEvaluationDecisionTypeImplicitDeny || len(pull.MissingContextValues) != 1 ||
		pull.MissingContextValues[0] != "aws:PrincipalTag/team" {
		t.Fatalf("pull without context: %+v", pull)
	}
	if del.EvalDecision != iamtypes.PolicyEvaluationDecisionTypeExplicitDeny || len(del.MatchedStatements) != 1 {
		t.Fatalf("delete: %+v", del)
	}
	m := del.MatchedStatements[0]
	if *m.SourcePolicyId != "PolicyInputList.1" || m.StartPosition.Line != 6 || m.EndPosition.Line != 6 || m.StartPosition.Column < 1 {
		t.Fatalf("delete matched %s %+v %+v", *m.SourcePolicyId, *m.StartPosition, *m.EndPosition)
	}
	if put.EvalDecision != iamtypes.PolicyEvaluationDecisionTypeImplicitDeny || len(put.MatchedStatements) != 0 || *put.EvalResourceName != repo ||
		len(put.ResourceSpecificResults) != 1 || *put.ResourceSpecificResults[0].EvalResourceName != repo {
		t.Fatalf("put: %+v", put)
	}

	// With the context entry the simulator uses exactly what it is given.
	withTag := must[*sdk.SimulateCustomPolicyOutput](t)(w.root.SimulateCustomPolicy(ctx, &sdk.SimulateCustomPolicyInput{
		PolicyInputList: []string{identity}, ActionNames: []string{"ecr:BatchGetImage"},
		ContextEntries:                     []iamtypes.ContextEntry{{ContextKeyName: aws.String("aws:PrincipalTag/team"), ContextKeyType: iamtypes.ContextKeyTypeEnumString, ContextKeyValues: []string{"ml"}}},
		PermissionsBoundaryPolicyInputList: []string{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:*","Resource":"*"}]}`}}))
	r := withTag.EvaluationResults[0]
	if r.EvalDecision != iamtypes.PolicyEvaluationDecisionTypeAllowed || len(r.MissingContextValues) != 0 || *r.EvalResourceName != "*" ||
		r.PermissionsBoundaryDecisionDetail == nil || !r.PermissionsBoundaryDecisionDetail.AllowedByPermissionsBoundary || len(r.ResourceSpecificResults) != 0 {
		t.Fatalf("pull with context: %+v", r)
	}

	// A resource policy needs a caller; roles and sessions are accepted as CallerArn.
	repoPolicy := `{"Version":"2012-10-17","Statement":[{"Sid":"CI","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + w.acct + `:role/ci"},"Action":"ecr:PutImage"}]}`
	_, err := w.root.SimulateCustomPolicy(ctx, &sdk.SimulateCustomPolicyInput{PolicyInputList: []string{}, ActionNames: []string{"ecr:PutImage"},
		ResourceArns: []string{repo}, ResourcePolicy: aws.String(repoPolicy)})
	wantCode(t, err, "InvalidInput")
	for _, caller := range []string{"arn:aws:iam::" + w.acct + ":role/ci", "arn:aws:sts::" + w.acct + ":assumed-role/ci/build-42"} {
		res := must[*sdk.SimulateCustomPolicyOutput](t)(w.root.SimulateCustomPolicy(ctx, &sdk.SimulateCustomPolicyInput{PolicyInputList: []string{},
			ActionNames: []string{"ecr:PutImage"}, ResourceArns: []string{repo}, ResourcePolicy: aws.String(repoPolicy), CallerArn: aws.String(caller)}))
		got := res.EvaluationResults[0]
		if got.EvalDecision != iamtypes.PolicyEvaluationDecisionTypeAllowed || len(got.MatchedStatements) != 1 ||
			*got.MatchedStatements[0].SourcePolicyId != "ResourcePolicy" || got.MatchedStatements[0].SourcePolicyType != iamtypes.PolicySourceTypeResource {
			t.Fatalf("caller %s: %+v", caller, got)
		}
	}
	other := must[*sdk.SimulateCustomPolicyOutput](t)(w.root.SimulateCustomPolicy(ctx, &sdk.SimulateCustomPolicyInput{PolicyInputList: []string{},
		ActionNames: []string{"ecr:PutImage"}, ResourceArns: []string{repo}, ResourcePolicy: aws.String(repoPolicy),
		CallerArn: aws.String("arn:aws:iam::" + w.acct + ":user/someone")}))
	if other.EvaluationResults[0].EvalDecision != iamtypes.PolicyEvaluationDecisionTypeImplicitDeny {
		t.Fatalf("a caller the resource policy does not name: %+v", other.EvaluationResults[0])
	}

	// Bad input.
	_, err = w.root.SimulateCustomPolicy(ctx, &sdk.SimulateCustomPolicyInput{PolicyInputList: []string{`{"Statement":[]}`}, ActionNames: []string{"ecr:PutImage"}})
	wantCode(t, err, "MalformedPolicyDocument")
	_, err = w.root.SimulateCustomPolicy(ctx, &sdk.SimulateCustomPolicyInput{PolicyInputList: []string{identity}, ActionNames: []string{"ecr:PutImage"},
		ContextEntries: []iamtypes.ContextEntry{{ContextKeyName: aws.String("aws:SourceIp"), ContextKeyType: iamtypes.ContextKeyTypeEnumIp, ContextKeyValues: []string{"not-an-ip"}}}})
	wantCode(t, err, "InvalidInput")
	_, err = w.root.SimulateCustomPolicy(ctx, &sdk.SimulateCustomPolicyInput{PolicyInputList: []string{identity}, ActionNames: []string{"ecr:PutImage"},
		CallerArn: aws.String("arn:aws:s3:::bucket")})
	wantCode(t, err, "InvalidInput")

	// Pagination over results.
	page := must[*sdk.SimulateCustomPolicyOutput](t)(w.root.SimulateCustomPolicy(ctx, &sdk.SimulateCustomPolicyInput{PolicyInputList: []string{identity},
		ActionNames: []string{"ecr:BatchGetImage", "ecr:BatchDeleteImage", "ecr:PutImage"}, MaxItems: aws.Int32(2)}))
	if len(page.EvaluationResults) != 2 || !page.IsTruncated {
		t.Fatalf("first page %+v", page)
	}
	rest := must[*sdk.SimulateCustomPolicyOutput](t)(w.root.SimulateCustomPolicy(ctx, &sdk.SimulateCustomPolicyInput{PolicyInputList: []string{identity},
		ActionNames: []string{"ecr:BatchGetImage", "ecr:BatchDeleteImage", "ecr:PutImage"}, MaxItems: aws.Int32(2), Marker: page.Marker}))
	if len(rest.EvaluationResults) != 1 || rest.IsTruncated || *rest.EvaluationResults[0].EvalActionName != "ecr:PutImage" {
		t.Fatalf("second page %+v", rest)
	}
}

func TestSimulatePrincipalPolicy(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	c := w.root
	must[*sdk.CreateUserOutput](t)(c.CreateUser(ctx, &sdk.CreateUserInput{UserName: aws.String("alice")}))
	must[*sdk.CreateGroupOutput](t)(c.CreateGroup(ctx, &sdk.CreateGroupInput{GroupName: aws.String("devs")}))
	must[*sdk.AddUserToGroupOutput](t)(c.AddUserToGroup(ctx, &sdk.AddUserToGroupInput{GroupName: aws.String("devs"), UserName: aws.String("alice")}))
	must[*sdk.PutGroupPolicyOutput](t)(c.PutGroupPolicy(ctx, &sdk.PutGroupPolicyInput{GroupName: aws.String("devs"), PolicyName: aws.String("pull"), PolicyDocument: aws.String(readOnlyECR)}))
	ro := "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"
	power := "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser"
	must[*sdk.AttachUserPolicyOutput](t)(c.AttachUserPolicy(ctx, &sdk.AttachUserPolicyInput{UserName: aws.String("alice"), PolicyArn: aws.String(power)}))
	aliceARN := "arn:aws:iam::" + w.acct + ":user/alice"

	sim := func(source string, actions ...string) []iamtypes.EvaluationResult {
		t.Helper()
		out := must[*sdk.SimulatePrincipalPolicyOutput](t)(c.SimulatePrincipalPolicy(ctx, &sdk.SimulatePrincipalPolicyInput{PolicySourceArn: aws.String(source), ActionNames: actions}))
		return out.EvaluationResults
	}
	res := sim(aliceARN, "ecr:BatchGetImage", "ecr:PutImage", "ecr:DeleteRepository")
	if res[0].EvalDecision != "allowed" || res[1].EvalDecision != "allowed" || res[2].EvalDecision != "implicitDeny" {
		t.Fatalf("alice: %+v", res)
	}
	sources := map[string]bool{}
	for _, m := range res[0].MatchedStatements {
		sources[*m.SourcePolicyId+"/"+string(m.SourcePolicyType)] = true
	}
	if len(sources) != 2 || !sources["pull/group"] || !sources["AmazonEC2ContainerRegistryPowerUser/aws-managed"] {
		t.Fatalf("matched statements of pull: %v", sources)
	}
	// A user's inline policy may share its name with a group's; both are reported.
	must[*sdk.PutUserPolicyOutput](t)(c.PutUserPolicy(ctx, &sdk.PutUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("pull"), PolicyDocument: aws.String(readOnlyECR)}))
	res = sim(aliceARN, "ecr:BatchGetImage")
	sources = map[string]bool{}
	for _, m := range res[0].MatchedStatements {
		sources[*m.SourcePolicyId+"/"+string(m.SourcePolicyType)] = true
	}
	if len(sources) != 3 || !sources["pull/user"] || !sources["pull/group"] {
		t.Fatalf("matched statements with a shared name: %v", sources)
	}

	// A boundary narrows the user's permissions, and the simulator says so.
	must[*sdk.PutUserPermissionsBoundaryOutput](t)(c.PutUserPermissionsBoundary(ctx, &sdk.PutUserPermissionsBoundaryInput{UserName: aws.String("alice"), PermissionsBoundary: aws.String(ro)}))
	res = sim(aliceARN, "ecr:BatchGetImage", "ecr:PutImage")
	if res[0].EvalDecision != "allowed" || res[1].EvalDecision != "implicitDeny" || res[1].PermissionsBoundaryDecisionDetail == nil ||
		res[1].PermissionsBoundaryDecisionDetail.AllowedByPermissionsBoundary {
		t.Fatalf("alice with a boundary: %+v", res)
	}
	// AWS managed documents far over the customer size limits (ReadOnlyAccess) simulate like any other,
	// attached and as a boundary.
	readOnlyAccess := "arn:aws:iam::aws:policy/ReadOnlyAccess"
	must[*sdk.CreateUserOutput](t)(c.CreateUser(ctx, &sdk.CreateUserInput{UserName: aws.String("auditor")}))
	must[*sdk.AttachUserPolicyOutput](t)(c.AttachUserPolicy(ctx, &sdk.AttachUserPolicyInput{UserName: aws.String("auditor"), PolicyArn: aws.String(readOnlyAccess)}))
	must[*sdk.PutUserPermissionsBoundaryOutput](t)(c.PutUserPermissionsBoundary(ctx, &sdk.PutUserPermissionsBoundaryInput{UserName: aws.String("auditor"), PermissionsBoundary: aws.String(readOnlyAccess)}))
	res = sim("arn:aws:iam::"+w.acct+":user/auditor", "ecr:DescribeRepositories", "ecr:PutImage")
	if res[0].EvalDecision != "allowed" || res[1].EvalDecision != "implicitDeny" {
		t.Fatalf("auditor with ReadOnlyAccess: %+v", res)
	}
	// Groups and roles can be simulated too; extra PolicyInputList documents join the stored ones.
	res = sim("arn:aws:iam::"+w.acct+":group/devs", "ecr:BatchGetImage", "ecr:PutImage")
	if res[0].EvalDecision != "allowed" || res[1].EvalDecision != "implicitDeny" {
		t.Fatalf("group: %+v", res)
	}
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + w.acct + `"},"Action":"sts:AssumeRole"}]}`
	role := must[*sdk.CreateRoleOutput](t)(c.CreateRole(ctx, &sdk.CreateRoleInput{RoleName: aws.String("ci"), AssumeRolePolicyDocument: aws.String(trust)}))
	out := must[*sdk.SimulatePrincipalPolicyOutput](t)(c.SimulatePrincipalPolicy(ctx, &sdk.SimulatePrincipalPolicyInput{PolicySourceArn: role.Role.Arn,
		ActionNames: []string{"ecr:BatchGetImage"}, PolicyInputList: []string{readOnlyECR}}))
	if r := out.EvaluationResults[0]; r.EvalDecision != "allowed" || *r.MatchedStatements[0].SourcePolicyId != "PolicyInputList.1" {
		t.Fatalf("role with an extra policy: %+v", r)
	}
	_, err := c.SimulatePrincipalPolicy(ctx, &sdk.SimulatePrincipalPolicyInput{PolicySourceArn: aws.String("arn:aws:iam::" + w.acct + ":user/ghost"), ActionNames: []string{"ecr:BatchGetImage"}})
	wantCode(t, err, "NoSuchEntity")
	// The trust policy of a role is simulated as one.
	sts := must[*sdk.SimulateCustomPolicyOutput](t)(c.SimulateCustomPolicy(ctx, &sdk.SimulateCustomPolicyInput{PolicyInputList: []string{},
		ActionNames: []string{"sts:AssumeRole"}, ResourceArns: []string{*role.Role.Arn}, ResourcePolicy: aws.String(trust), CallerArn: aws.String(aliceARN)}))
	if strings.Contains(string(sts.EvaluationResults[0].EvalDecision), "explicit") {
		t.Fatalf("trust simulation: %+v", sts.EvaluationResults[0])
	}
}

func TestContextKeys(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	doc := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:GetUser","Resource":"arn:aws:iam::*:user/${aws:username}",
	  "Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"},"StringEquals":{"aws:PrincipalTag/team":"${aws:ResourceTag/team}","AWS:USERNAME":"x"}}}}`
	out := must[*sdk.GetContextKeysForCustomPolicyOutput](t)(w.root.GetContextKeysForCustomPolicy(ctx, &sdk.GetContextKeysForCustomPolicyInput{PolicyInputList: []string{doc}}))
	got := map[string]bool{}
	for _, k := range out.ContextKeyNames {
		got[strings.ToLower(k)] = true
	}
	if len(out.ContextKeyNames) != 4 || !got["aws:username"] || !got["aws:multifactorauthpresent"] || !got["aws:principaltag/team"] || !got["aws:resourcetag/team"] {
		t.Fatalf("context keys %v", out.ContextKeyNames)
	}
	_, err := w.root.GetContextKeysForCustomPolicy(ctx, &sdk.GetContextKeysForCustomPolicyInput{PolicyInputList: []string{"{"}})
	wantCode(t, err, "MalformedPolicyDocument")

	must[*sdk.CreateUserOutput](t)(w.root.CreateUser(ctx, &sdk.CreateUserInput{UserName: aws.String("alice")}))
	must[*sdk.PutUserPolicyOutput](t)(w.root.PutUserPolicy(ctx, &sdk.PutUserPolicyInput{UserName: aws.String("alice"), PolicyName: aws.String("self"), PolicyDocument: aws.String(viewOwnPermissions)}))
	p := must[*sdk.GetContextKeysForPrincipalPolicyOutput](t)(w.root.GetContextKeysForPrincipalPolicy(ctx, &sdk.GetContextKeysForPrincipalPolicyInput{
		PolicySourceArn: aws.String("arn:aws:iam::" + w.acct + ":user/alice")}))
	if len(p.ContextKeyNames) != 1 || p.ContextKeyNames[0] != "aws:username" {
		t.Fatalf("principal context keys %v", p.ContextKeyNames)
	}
}

// The example of the aws CLI's own documentation for simulate-custom-policy, answer for answer.
func TestSimulatorMatchesTheCLIDocumentationExample(t *testing.T) {
	w := newWorld(t)
	doc := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:*","Resource":"*","Condition":{"DateGreaterThan":{"aws:CurrentTime":"2018-08-16T12:00:00Z"}}}}`
	out := must[*sdk.SimulateCustomPolicyOutput](t)(w.root.SimulateCustomPolicy(context.Background(), &sdk.SimulateCustomPolicyInput{
		PolicyInputList: []string{doc}, ActionNames: []string{"dynamodb:CreateBackup"},
		ContextEntries: []iamtypes.ContextEntry{{ContextKeyName: aws.String("aws:CurrentTime"), ContextKeyValues: []string{"2019-04-25T11:00:00Z"}, ContextKeyType: iamtypes.ContextKeyTypeEnumDate}}}))
	r := out.EvaluationResults[0]
	if r.EvalDecision != "allowed" || *r.EvalResourceName != "*" || len(r.MatchedStatements) != 1 || len(r.MissingContextValues) != 0 {
		t.Fatalf("result %+v", r)
	}
	m := r.MatchedStatements[0]
	if *m.SourcePolicyId != "PolicyInputList.1" || m.SourcePolicyType != "" || *m.StartPosition != (iamtypes.Position{Line: 1, Column: 38}) ||
		*m.EndPosition != (iamtypes.Position{Line: 1, Column: 167}) {
		t.Fatalf("matched %s %q %+v %+v", *m.SourcePolicyId, m.SourcePolicyType, *m.StartPosition, *m.EndPosition)
	}
	// Example 2: a time before the condition's is an implicit deny with no matched statement.
	out = must[*sdk.SimulateCustomPolicyOutput](t)(w.root.SimulateCustomPolicy(context.Background(), &sdk.SimulateCustomPolicyInput{
		PolicyInputList: []string{doc}, ActionNames: []string{"dynamodb:CreateBackup"},
		ContextEntries: []iamtypes.ContextEntry{{ContextKeyName: aws.String("aws:CurrentTime"), ContextKeyValues: []string{"2014-04-25T11:00:00Z"}, ContextKeyType: iamtypes.ContextKeyTypeEnumDate}}}))
	if r := out.EvaluationResults[0]; r.EvalDecision != "implicitDeny" || len(r.MatchedStatements) != 0 || len(r.MissingContextValues) != 0 {
		t.Fatalf("example 2: %+v", r)
	}
}
