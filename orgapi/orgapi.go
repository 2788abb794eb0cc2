package orgapi

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/coffer-registry/coffer/auth"
	"github.com/coffer-registry/coffer/authz"
	"github.com/coffer-registry/coffer/awsproto"
	"github.com/coffer-registry/coffer/iam"
	"github.com/coffer-registry/coffer/iam/iamsql"
	"github.com/coffer-registry/coffer/policy"
)

// Identities is what Organizations needs from the identity store (*iamsql.Service).
type Identities interface {
	DescribeOrganization(ctx context.Context) (*iam.Organization, error)
	GetAccount(ctx context.Context, id string) (*iam.Account, error)
	ListAccounts(ctx context.Context) ([]iam.Account, error)
	CreateAccount(ctx context.Context, in iamsql.CreateAccountInput) (*iam.Account, error)
}

// Deps are the parts the Organizations operations stand on.
type Deps struct {
	Identities Identities
	Authorizer authz.Authorizer
	Now        func() time.Time // nil: time.Now
}

// Register adds DescribeOrganization, CreateAccount, DescribeCreateAccountStatus,
// ListCreateAccountStatus, DescribeAccount and ListAccounts to e.
func Register(e *awsproto.Endpoint, d Deps) {
	if d.Now == nil {
		d.Now = time.Now
	}
	s := &service{Deps: d, failed: map[string]createAccountStatus{}}
	awsproto.Handle(e, awsproto.Organizations, "DescribeOrganization", s.describeOrganization)
	awsproto.Handle(e, awsproto.Organizations, "CreateAccount", s.createAccount)
	awsproto.Handle(e, awsproto.Organizations, "DescribeCreateAccountStatus", s.describeCreateAccountStatus)
	awsproto.Handle(e, awsproto.Organizations, "ListCreateAccountStatus", s.listCreateAccountStatus)
	awsproto.Handle(e, awsproto.Organizations, "DescribeAccount", s.describeAccount)
	awsproto.Handle(e, awsproto.Organizations, "ListAccounts", s.listAccounts)
}

// Account creation happens at once in Coffer, so a successful CreateAccount request is named
// after the account it made ("car-" and the account id) and its status is read back from the
// store. Failed requests leave no account; their statuses are kept in memory (the newest
// maxFailedStatuses), as AWS keeps them only for a while too.
const (
	requestIDPrefix   = "car-"
	maxFailedStatuses = 1000
	maxPageSize       = 20
)

var (
	requestIDPattern = regexp.MustCompile(`^car-[a-z0-9]{8,32}$`)
	accountIDPattern = regexp.MustCompile(`^\d{12}$`)
	emailPattern     = regexp.MustCompile(`^[^\s@]+@[^\s@]+\.[^\s@]+$`)
	roleNamePattern  = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
	tagPattern       = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)
)

type service struct {
	Deps
	mu          sync.Mutex
	failed      map[string]createAccountStatus
	failedOrder []string
}

// caller returns the calling principal and the organization, and refuses callers outside the
// management account when managementOnly is set, as Organizations does for everything but
// DescribeOrganization (Coffer has no delegated administrators).
func (s *service) caller(ctx context.Context, managementOnly bool) (*iam.Principal, *iam.Organization, error) {
	c := auth.CallerFrom(ctx)
	if c == nil || c.Principal == nil {
		return nil, nil, awsproto.MissingAuthenticationToken()
	}
	org, err := s.Identities.DescribeOrganization(ctx)
	if err != nil {
		return nil, nil, toWire(err)
	}
	if managementOnly && c.Principal.AccountID != org.ManagementAccountID {
		return nil, nil, accessDenied("You don't have permissions to access this resource.")
	}
	if c.Principal.OrgID != "" && c.Principal.OrgID != org.ID {
		return nil, nil, notInUse()
	}
	return c.Principal, org, nil
}

func (s *service) authorize(ctx context.Context, op, resource, resourceAccount string, keys ...authz.Key) error {
	return toWire(s.Authorizer.Authorize(ctx, authz.Check{Action: "organizations:" + op,
		Resource: resource, ResourceAccount: resourceAccount, Keys: keys}))
}

func (s *service) describeOrganization(ctx context.Context, _ *describeOrganizationInput) (*describeOrganizationOutput, error) {
	_, org, err := s.caller(ctx, false)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, "DescribeOrganization", "*", ""); err != nil {
		return nil, err
	}
	return &describeOrganizationOutput{Organization: organization{
		Id: org.ID, Arn: org.ARN, FeatureSet: org.FeatureSet,
		MasterAccountArn: org.ManagementAccountARN, MasterAccountId: org.ManagementAccountID,
		MasterAccountEmail: org.ManagementAccountEmail, AvailablePolicyTypes: []policyTypeSummary{},
	}}, nil
}

func (s *service) createAccount(ctx context.Context, in *createAccountInput) (*createAccountOutput, error) {
	_, org, err := s.caller(ctx, true)
	if err != nil {
		return nil, err
	}
	if err := checkCreateAccount(in); err != nil {
		return nil, err
	}
	var keys []authz.Key
	if len(in.Tags) > 0 {
		names := make([]string, len(in.Tags))
		for i, t := range in.Tags {
			names[i] = t.Key
			keys = append(keys, authz.Key{Name: "aws:RequestTag/" + t.Key, Type: policy.TypeString, Values: []string{t.Value}})
		}
		keys = append(keys, authz.Key{Name: "aws:TagKeys", Type: policy.TypeStringList, Values: names})
	}
	if err := s.authorize(ctx, "CreateAccount", "*", org.ManagementAccountID, keys...); err != nil {
		return nil, err
	}
	requested := s.Now().UTC()
	acct, err := s.Identities.CreateAccount(ctx, iamsql.CreateAccountInput{Name: in.AccountName, Email: in.Email, RoleName: in.RoleName})
	if iam.ErrorCode(err) == iam.CodeEmailAlreadyExists {
		// Organizations reports this in the request's status, not as an error of the call.
		st := createAccountStatus{Id: requestIDPrefix + randomLower(32), AccountName: in.AccountName, State: "FAILED",
			RequestedTimestamp: awsproto.EpochTime(requested), CompletedTimestamp: ptr(awsproto.EpochTime(s.Now().UTC())),
			FailureReason: iam.CodeEmailAlreadyExists}
		s.rememberFailure(st)
		return &createAccountOutput{CreateAccountStatus: st}, nil
	}
	if err != nil {
		return nil, toWire(err)
	}
	return &createAccountOutput{CreateAccountStatus: succeeded(acct)}, nil
}

// checkCreateAccount applies the model's constraints, answered as InvalidInputException.
func checkCreateAccount(in *createAccountInput) error {
	switch {
	case utf8.RuneCountInString(in.Email) < 6 || utf8.RuneCountInString(in.Email) > 64:
		return invalidInput("The Email must be between 6 and 64 characters long.")
	case !emailPattern.MatchString(in.Email):
		return invalidInput("You provided a value that does not match the required pattern for Email.")
	case in.AccountName == "" || utf8.RuneCountInString(in.AccountName) > 50:
		return invalidInput("The AccountName must be between 1 and 50 characters long.")
	case strings.IndexFunc(in.AccountName, func(r rune) bool { return r < 0x20 || r > 0x7e }) >= 0:
		return invalidInput("You provided a value that does not match the required pattern for AccountName.")
	case in.RoleName != "" && !roleNamePattern.MatchString(in.RoleName):
		return invalidInput("You provided a value that does not match the required pattern for RoleName.")
	case in.IamUserAccessToBilling != "" && in.IamUserAccessToBilling != "ALLOW" && in.IamUserAccessToBilling != "DENY":
		return invalidInput("IamUserAccessToBilling must be ALLOW or DENY.")
	}
	seen := map[string]bool{}
	for _, t := range in.Tags {
		if t.Key == "" || utf8.RuneCountInString(t.Key) > 128 || utf8.RuneCountInString(t.Value) > 256 ||
			!tagPattern.MatchString(t.Key) || !tagPattern.MatchString(t.Value) {
			return invalidInput("You provided a tag key or value that does not match the required pattern or length.")
		}
		if seen[strings.ToLower(t.Key)] {
			return invalidInput("Duplicate tag key " + t.Key + ".")
		}
		seen[strings.ToLower(t.Key)] = true
	}
	return nil
}

func succeeded(a *iam.Account) createAccountStatus {
	at := awsproto.EpochTime(a.JoinedAt)
	return createAccountStatus{Id: requestIDPrefix + a.ID, AccountName: a.Name, State: "SUCCEEDED",
		RequestedTimestamp: at, CompletedTimestamp: &at, AccountId: a.ID}
}

func (s *service) rememberFailure(st createAccountStatus) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failed[st.Id] = st
	s.failedOrder = append(s.failedOrder, st.Id)
	if len(s.failedOrder) > maxFailedStatuses {
		delete(s.failed, s.failedOrder[0])
		s.failedOrder = s.failedOrder[1:]
	}
}

func (s *service) failures() []createAccountStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]createAccountStatus, 0, len(s.failedOrder))
	for _, id := range s.failedOrder {
		out = append(out, s.failed[id])
	}
	return out
}

func (s *service) describeCreateAccountStatus(ctx context.Context, in *describeCreateAccountStatusInput) (*describeCreateAccountStatusOutput, error) {
	_, org, err := s.caller(ctx, true)
	if err != nil {
		return nil, err
	}
	if !requestIDPattern.MatchString(in.CreateAccountRequestId) {
		return nil, invalidInput("You provided a value that does not match the required pattern for CreateAccountRequestId.")
	}
	if err := s.authorize(ctx, "DescribeCreateAccountStatus", "*", org.ManagementAccountID); err != nil {
		return nil, err
	}
	notFound := &awsproto.Error{Code: "CreateAccountStatusNotFoundException", Status: http.StatusBadRequest,
		Message: "We can't find a create account request with the CreateAccountRequestId that you specified."}
	id := strings.TrimPrefix(in.CreateAccountRequestId, requestIDPrefix)
	if accountIDPattern.MatchString(id) {
		acct, err := s.Identities.GetAccount(ctx, id)
		if iam.ErrorCode(err) == iam.CodeAccountNotFound || iam.ErrorCode(err) == iam.CodeNoSuchEntity {
			return nil, notFound
		}
		if err != nil {
			return nil, toWire(err)
		}
		if acct.Management || acct.OrganizationID != org.ID {
			return nil, notFound
		}
		return &describeCreateAccountStatusOutput{CreateAccountStatus: succeeded(acct)}, nil
	}
	s.mu.Lock()
	st, ok := s.failed[in.CreateAccountRequestId]
	s.mu.Unlock()
	if !ok {
		return nil, notFound
	}
	return &describeCreateAccountStatusOutput{CreateAccountStatus: st}, nil
}

func (s *service) listCreateAccountStatus(ctx context.Context, in *listCreateAccountStatusInput) (*listCreateAccountStatusOutput, error) {
	_, org, err := s.caller(ctx, true)
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, st := range in.States {
		if st != "IN_PROGRESS" && st != "SUCCEEDED" && st != "FAILED" {
			return nil, invalidInput("States may contain only IN_PROGRESS, SUCCEEDED and FAILED.")
		}
		want[st] = true
	}
	size, err := pageSize(in.MaxResults)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, "ListCreateAccountStatus", "*", org.ManagementAccountID); err != nil {
		return nil, err
	}
	accts, err := s.Identities.ListAccounts(ctx)
	if err != nil {
		return nil, toWire(err)
	}
	var all []createAccountStatus
	if len(want) == 0 || want["SUCCEEDED"] {
		for i := range accts {
			if !accts[i].Management && accts[i].JoinedMethod == "CREATED" {
				all = append(all, succeeded(&accts[i]))
			}
		}
	}
	if len(want) == 0 || want["FAILED"] {
		all = append(all, s.failures()...)
	}
	page, next, err := paginate(all, func(st createAccountStatus) string { return st.Id }, in.NextToken, size)
	if err != nil {
		return nil, err
	}
	return &listCreateAccountStatusOutput{CreateAccountStatuses: page, NextToken: next}, nil
}

func (s *service) describeAccount(ctx context.Context, in *describeAccountInput) (*describeAccountOutput, error) {
	_, org, err := s.caller(ctx, true)
	if err != nil {
		return nil, err
	}
	if !accountIDPattern.MatchString(in.AccountId) {
		return nil, invalidInput("You provided a value that does not match the required pattern for AccountId.")
	}
	arn := iam.OrganizationAccountARN(org.ManagementAccountID, org.ID, in.AccountId)
	if err := s.authorize(ctx, "DescribeAccount", arn, org.ManagementAccountID); err != nil {
		return nil, err
	}
	acct, err := s.Identities.GetAccount(ctx, in.AccountId)
	if err != nil {
		return nil, toWire(err)
	}
	if acct.OrganizationID != org.ID {
		return nil, toWire(iam.ErrNoSuchAccount(in.AccountId))
	}
	return &describeAccountOutput{Account: accountOf(acct)}, nil
}

func (s *service) listAccounts(ctx context.Context, in *listAccountsInput) (*listAccountsOutput, error) {
	_, org, err := s.caller(ctx, true)
	if err != nil {
		return nil, err
	}
	size, err := pageSize(in.MaxResults)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, "ListAccounts", "*", org.ManagementAccountID); err != nil {
		return nil, err
	}
	accts, err := s.Identities.ListAccounts(ctx)
	if err != nil {
		return nil, toWire(err)
	}
	all := make([]account, len(accts))
	for i := range accts {
		all[i] = accountOf(&accts[i])
	}
	page, next, err := paginate(all, func(a account) string { return a.Id }, in.NextToken, size)
	if err != nil {
		return nil, err
	}
	return &listAccountsOutput{Accounts: page, NextToken: next}, nil
}

func accountOf(a *iam.Account) account {
	return account{Id: a.ID, Arn: a.ARN, Email: a.Email, Name: a.Name, Status: a.Status, State: a.Status,
		JoinedMethod: a.JoinedMethod, JoinedTimestamp: awsproto.EpochTime(a.JoinedAt)}
}

func pageSize(max *int) (int, error) {
	if max == nil {
		return maxPageSize, nil
	}
	if *max < 1 || *max > maxPageSize {
		return 0, invalidInput(fmt.Sprintf("MaxResults must be between 1 and %d.", maxPageSize))
	}
	return *max, nil
}

// paginate returns the page of items after the one a NextToken names (tokens carry the key of
// the last item returned, so pages stay right while accounts are added) and the next token.
func paginate[T any](items []T, key func(T) string, token *string, size int) ([]T, *string, error) {
	start := 0
	if token != nil && *token != "" {
		raw, err := base64.RawURLEncoding.DecodeString(*token)
		if err != nil {
			return nil, nil, invalidToken()
		}
		start = -1
		for i, it := range items {
			if key(it) == string(raw) {
				start = i + 1
				break
			}
		}
		if start < 0 {
			return nil, nil, invalidToken()
		}
	}
	end := min(start+size, len(items))
	page := append(make([]T, 0, end-start), items[start:end]...)
	if end == len(items) {
		return page, nil, nil
	}
	next := base64.RawURLEncoding.EncodeToString([]byte(key(items[end-1])))
	return page, &next, nil
}

func ptr[T any](v T) *T { return &v }
