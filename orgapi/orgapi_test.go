package orgapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/organizations/types"

	"github.com/coffer-registry/coffer/iam"
	"github.com/coffer-registry/coffer/iam/iamsql"
	"github.com/coffer-registry/coffer/internal/awstest"
)

func TestDescribeOrganization(t *testing.T) {
	c := start(t)
	ctx := context.Background()
	out, err := c.orgs(c.root).DescribeOrganization(ctx, &organizations.DescribeOrganizationInput{})
	if err != nil {
		t.Fatal(err)
	}
	o := out.Organization
	if *o.Id != c.org || *o.MasterAccountId != c.mgmt || *o.MasterAccountEmail != "owner@example.com" ||
		o.FeatureSet != types.OrganizationFeatureSetAll ||
		*o.Arn != "arn:aws:organizations::"+c.mgmt+":organization/"+c.org ||
		*o.MasterAccountArn != "arn:aws:organizations::"+c.mgmt+":account/"+c.org+"/"+c.mgmt {
		t.Fatalf("organization %+v", o)
	}
	// Any account of the organization may describe it.
	member, err := c.store.CreateAccount(ctx, iamsql.CreateAccountInput{Name: "m", Email: "m@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	out, err = c.orgs(c.rootOf(member.ID)).DescribeOrganization(ctx, &organizations.DescribeOrganizationInput{})
	if err != nil {
		t.Fatal(err)
	}
	if *out.Organization.Id != c.org {
		t.Fatalf("member sees %s", *out.Organization.Id)
	}
	// An IAM user needs the permission.
	u := c.user(member.ID, "u", "")
	_, err = c.orgs(u).DescribeOrganization(ctx, &organizations.DescribeOrganizationInput{})
	wantError(t, err, "AccessDeniedException", "User: "+iam.UserARN(member.ID, "/", "u")+
		" is not authorized to perform: organizations:DescribeOrganization")
}

func TestCreateAccount(t *testing.T) {
	c := start(t)
	ctx := context.Background()
	before := time.Now().Add(-time.Second)
	out, err := c.orgs(c.root).CreateAccount(ctx, &organizations.CreateAccountInput{
		AccountName: aws.String("Dev Team"), Email: aws.String("dev@example.com"),
		IamUserAccessToBilling: types.IAMUserAccessToBillingDeny})
	if err != nil {
		t.Fatal(err)
	}
	st := out.CreateAccountStatus
	if !regexp.MustCompile(`^car-[a-z0-9]{8,32}$`).MatchString(*st.Id) || st.State != types.CreateAccountStateSucceeded ||
		*st.AccountName != "Dev Team" || !iam.IsAccountID(*st.AccountId) || st.RequestedTimestamp.Before(before) ||
		st.CompletedTimestamp == nil {
		t.Fatalf("status %+v", st)
	}
	member := *st.AccountId
	again, err := c.orgs(c.root).DescribeCreateAccountStatus(ctx, &organizations.DescribeCreateAccountStatusInput{CreateAccountRequestId: st.Id})
	if err != nil {
		t.Fatal(err)
	}
	if *again.CreateAccountStatus.AccountId != member || again.CreateAccountStatus.State != types.CreateAccountStateSucceeded {
		t.Fatalf("describe status %+v", again.CreateAccountStatus)
	}
	acct, err := c.orgs(c.root).DescribeAccount(ctx, &organizations.DescribeAccountInput{AccountId: aws.String(member)})
	if err != nil {
		t.Fatal(err)
	}
	a := acct.Account
	if *a.Id != member || *a.Name != "Dev Team" || *a.Email != "dev@example.com" || a.Status != types.AccountStatusActive ||
		a.JoinedMethod != types.AccountJoinedMethodCreated || a.JoinedTimestamp.Before(before) ||
		*a.Arn != "arn:aws:organizations::"+c.mgmt+":account/"+c.org+"/"+member {
		t.Fatalf("account %+v", a)
	}
	// The new account has the role the management account may assume, with AdministratorAccess.
	role, err := c.store.GetRole(ctx, member, "OrganizationAccountAccessRole")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(role.AssumeRolePolicy, "arn:aws:iam::"+c.mgmt+":root") {
		t.Fatalf("trust policy %s", role.AssumeRolePolicy)
	}
	attached, err := c.store.ListAttachedPolicies(ctx, iam.EntityRef{Account: member, Kind: iam.KindRole, Name: role.Name})
	if err != nil {
		t.Fatal(err)
	}
	if len(attached) != 1 || attached[0].ARN != iam.AdministratorAccessARN {
		t.Fatalf("attached %+v", attached)
	}
	// RoleName chooses the role's name.
	out, err = c.orgs(c.root).CreateAccount(ctx, &organizations.CreateAccountInput{
		AccountName: aws.String("ops"), Email: aws.String("ops@example.com"), RoleName: aws.String("OpsAdmin")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.store.GetRole(ctx, *out.CreateAccountStatus.AccountId, "OpsAdmin"); err != nil {
		t.Fatal(err)
	}

	// A second account with the same email fails in its status, as Organizations reports it.
	dup, err := c.orgs(c.root).CreateAccount(ctx, &organizations.CreateAccountInput{
		AccountName: aws.String("dup"), Email: aws.String("DEV@example.com")})
	if err != nil {
		t.Fatal(err)
	}
	if dup.CreateAccountStatus.State != types.CreateAccountStateFailed ||
		dup.CreateAccountStatus.FailureReason != types.CreateAccountFailureReasonEmailAlreadyExists || dup.CreateAccountStatus.AccountId != nil {
		t.Fatalf("duplicate %+v", dup.CreateAccountStatus)
	}
	failed, err := c.orgs(c.root).DescribeCreateAccountStatus(ctx, &organizations.DescribeCreateAccountStatusInput{CreateAccountRequestId: dup.CreateAccountStatus.Id})
	if err != nil {
		t.Fatal(err)
	}
	if failed.CreateAccountStatus.State != types.CreateAccountStateFailed {
		t.Fatalf("describe duplicate %+v", failed.CreateAccountStatus)
	}
	list, err := c.orgs(c.root).ListCreateAccountStatus(ctx, &organizations.ListCreateAccountStatusInput{
		States: []types.CreateAccountState{types.CreateAccountStateFailed}})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.CreateAccountStatuses) != 1 || *list.CreateAccountStatuses[0].Id != *dup.CreateAccountStatus.Id {
		t.Fatalf("failed statuses %+v", list.CreateAccountStatuses)
	}
	list, err = c.orgs(c.root).ListCreateAccountStatus(ctx, &organizations.ListCreateAccountStatusInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.CreateAccountStatuses) != 3 {
		t.Fatalf("all statuses %+v", list.CreateAccountStatuses)
	}

	for _, tc := range []struct {
		name string
		in   organizations.CreateAccountInput
	}{
		{"bad email", organizations.CreateAccountInput{AccountName: aws.String("x"), Email: aws.String("not-an-email")}},
		{"long name", organizations.CreateAccountInput{AccountName: aws.String(strings.Repeat("n", 51)), Email: aws.String("n@example.com")}},
		{"bad role name", organizations.CreateAccountInput{AccountName: aws.String("x"), Email: aws.String("r@example.com"), RoleName: aws.String("a b")}},
	} {
		_, err := c.orgs(c.root).CreateAccount(ctx, &tc.in)
		wantError(t, err, "InvalidInputException", "")
	}
}

func TestDescribeErrors(t *testing.T) {
	c := start(t)
	ctx := context.Background()
	_, err := c.orgs(c.root).DescribeAccount(ctx, &organizations.DescribeAccountInput{AccountId: aws.String("123456789012")})
	wantError(t, err, "AccountNotFoundException", "")
	_, err = c.orgs(c.root).DescribeAccount(ctx, &organizations.DescribeAccountInput{AccountId: aws.String("12345")})
	wantError(t, err, "InvalidInputException", "")
	_, err = c.orgs(c.root).DescribeCreateAccountStatus(ctx, &organizations.DescribeCreateAccountStatusInput{CreateAccountRequestId: aws.String("car-123456789012")})
	wantError(t, err, "CreateAccountStatusNotFoundException", "")
	_, err = c.orgs(c.root).DescribeCreateAccountStatus(ctx, &organizations.DescribeCreateAccountStatusInput{CreateAccountRequestId: aws.String("car-abcdefgh1234")})
	wantError(t, err, "CreateAccountStatusNotFoundException", "")
	// The management account was not created by a request.
	_, err = c.orgs(c.root).DescribeCreateAccountStatus(ctx, &organizations.DescribeCreateAccountStatusInput{CreateAccountRequestId: aws.String("car-" + c.mgmt)})
	wantError(t, err, "CreateAccountStatusNotFoundException", "")
	_, err = c.orgs(c.root).DescribeCreateAccountStatus(ctx, &organizations.DescribeCreateAccountStatusInput{CreateAccountRequestId: aws.String("nope")})
	wantError(t, err, "InvalidInputException", "")
	_, err = c.orgs(c.root).ListAccounts(ctx, &organizations.ListAccountsInput{NextToken: aws.String("garbage!")})
	wantError(t, err, "InvalidInputException", "NextToken")
	_, err = c.orgs(c.root).ListAccounts(ctx, &organizations.ListAccountsInput{MaxResults: aws.Int32(21)})
	wantError(t, err, "InvalidInputException", "MaxResults")
}

func TestListAccountsPages(t *testing.T) {
	c := start(t)
	ctx := context.Background()
	for i := range 4 {
		if _, err := c.store.CreateAccount(ctx, iamsql.CreateAccountInput{Name: fmt.Sprint("a", i), Email: fmt.Sprintf("a%d@example.com", i)}); err != nil {
			t.Fatal(err)
		}
	}
	stored, err := c.store.ListAccounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, a := range stored {
		want = append(want, a.ID)
	}
	var got []string
	pages := 0
	p := organizations.NewListAccountsPaginator(c.orgs(c.root), &organizations.ListAccountsInput{MaxResults: aws.Int32(2)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(page.Accounts) > 2 {
			t.Fatalf("page of %d", len(page.Accounts))
		}
		for _, a := range page.Accounts {
			got = append(got, *a.Id)
		}
	}
	if pages != 3 || strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("%d pages: %v, want %v", pages, got, want)
	}
	all, err := c.orgs(c.root).ListAccounts(ctx, &organizations.ListAccountsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all.Accounts) != 5 || all.NextToken != nil {
		t.Fatalf("one page: %d accounts, next %v", len(all.Accounts), all.NextToken)
	}
}

// TestAuthorization: callers outside the management account are refused before IAM is asked;
// inside it, each operation is organizations:<Op> on the resource AWS names.
func TestAuthorization(t *testing.T) {
	c := start(t)
	ctx := context.Background()
	member, err := c.store.CreateAccount(ctx, iamsql.CreateAccountInput{Name: "m", Email: "m@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.orgs(c.rootOf(member.ID)).ListAccounts(ctx, &organizations.ListAccountsInput{})
	wantError(t, err, "AccessDeniedException", "You don't have permissions to access this resource.")
	_, err = c.orgs(c.rootOf(member.ID)).CreateAccount(ctx, &organizations.CreateAccountInput{AccountName: aws.String("x"), Email: aws.String("x@example.com")})
	wantError(t, err, "AccessDeniedException", "You don't have permissions to access this resource.")

	nobody := c.user(c.mgmt, "nobody", "")
	_, err = c.orgs(nobody).ListAccounts(ctx, &organizations.ListAccountsInput{})
	wantError(t, err, "AccessDeniedException", "User: "+iam.UserARN(c.mgmt, "/", "nobody")+
		" is not authorized to perform: organizations:ListAccounts on resource: * because no identity-based policy allows the organizations:ListAccounts action")

	memberARN := "arn:aws:organizations::" + c.mgmt + ":account/" + c.org + "/" + member.ID
	reader := c.user(c.mgmt, "reader", `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"organizations:ListAccounts","Resource":"*"},
		{"Effect":"Allow","Action":"organizations:DescribeAccount","Resource":"`+memberARN+`"},
		{"Effect":"Allow","Action":"organizations:CreateAccount","Resource":"*","Condition":{"StringEquals":{"aws:RequestTag/cost-center":"42"}}}]}`)
	if _, err := c.orgs(reader).ListAccounts(ctx, &organizations.ListAccountsInput{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.orgs(reader).DescribeAccount(ctx, &organizations.DescribeAccountInput{AccountId: aws.String(member.ID)}); err != nil {
		t.Fatal(err)
	}
	_, err = c.orgs(reader).DescribeAccount(ctx, &organizations.DescribeAccountInput{AccountId: aws.String(c.mgmt)})
	wantError(t, err, "AccessDeniedException", "organizations:DescribeAccount on resource: arn:aws:organizations::"+c.mgmt+":account/"+c.org+"/"+c.mgmt)
	_, err = c.orgs(reader).CreateAccount(ctx, &organizations.CreateAccountInput{AccountName: aws.String("t"), Email: aws.String("t@example.com")})
	wantError(t, err, "AccessDeniedException", "organizations:CreateAccount")
	if _, err := c.orgs(reader).CreateAccount(ctx, &organizations.CreateAccountInput{AccountName: aws.String("t"), Email: aws.String("t@example.com"),
		Tags: []types.Tag{{Key: aws.String("cost-center"), Value: aws.String("42")}}}); err != nil {
		t.Fatal(err)
	}
}

// TestAWSCLI drives the operations through the aws CLI.
func TestAWSCLI(t *testing.T) {
	c := start(t)
	awstest.NeedTool(t, "aws")
	run := func(args ...string) string {
		t.Helper()
		out, errs, err := awstest.CLI(t, c.url, c.root, region, append([]string{"organizations"}, args...)...)
		if err != nil {
			t.Fatalf("aws organizations %v: %v: %s", args, err, errs)
		}
		return out
	}
	var created struct {
		CreateAccountStatus struct{ Id, State, AccountId string }
	}
	decode(t, run("create-account", "--email", "cli@example.com", "--account-name", "cli"), &created)
	if created.CreateAccountStatus.State != "SUCCEEDED" {
		t.Fatalf("created %+v", created)
	}
	var listed struct {
		Accounts []struct {
			Id, Name, Status string
			JoinedTimestamp  float64 // the CLI prints the wire value: seconds since the epoch
		}
	}
	decode(t, run("list-accounts"), &listed)
	if len(listed.Accounts) != 2 || listed.Accounts[1].Id != created.CreateAccountStatus.AccountId ||
		listed.Accounts[1].Name != "cli" || listed.Accounts[1].JoinedTimestamp < 1e9 {
		t.Fatalf("listed %+v", listed)
	}
	var described struct {
		Organization struct{ Id, MasterAccountId string }
	}
	decode(t, run("describe-organization"), &described)
	if described.Organization.Id != c.org || described.Organization.MasterAccountId != c.mgmt {
		t.Fatalf("described %+v", described)
	}
}

func decode(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("%v: %s", err, s)
	}
}
