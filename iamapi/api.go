package iamapi

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/coffer-registry/coffer/auth"
	"github.com/coffer-registry/coffer/authz"
	"github.com/coffer-registry/coffer/awsproto"
	"github.com/coffer-registry/coffer/iam"
	"github.com/coffer-registry/coffer/iam/iamsql"
	"github.com/coffer-registry/coffer/policy"
)

// Deps is what the IAM operations need: the identity store, the authorizer every call asks
// first, the region and the clock.
type Deps struct {
	Store      *iamsql.Service
	Authorizer authz.Authorizer
	// Region and Now complete the wiring's picture of the server; IAM is a global service
	// whose answers depend on neither today ("" means us-east-1, nil means time.Now).
	Region string
	Now    func() time.Time
}

// api holds the dependencies the handlers share.
type api struct {
	Deps
}

// Register adds every IAM operation this package implements to e.
func Register(e *awsproto.Endpoint, d Deps) {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Region == "" {
		d.Region = "us-east-1"
	}
	a := &api{Deps: d}
	a.registerUsers(e)
	a.registerGroups(e)
	a.registerRoles(e)
	a.registerAccessKeys(e)
	a.registerMFA(e)
	a.registerInlinePolicies(e)
	a.registerManagedPolicies(e)
	a.registerAttachments(e)
	a.registerTags(e)
	a.registerAccount(e)
	a.registerSimulator(e)
	a.registerContextKeys(e)
}

// op registers one IAM operation; domain errors are converted to their wire form here, once.
func op[In, Out any](e *awsproto.Endpoint, name string, fn func(context.Context, *In) (*Out, error)) {
	awsproto.Handle(e, awsproto.IAM, name, func(ctx context.Context, in *In) (*Out, error) {
		out, err := fn(ctx, in)
		if err != nil {
			return nil, wireError(err)
		}
		return out, nil
	})
}

// wireError maps the errors of the identity store, the authorizer and the policy engine to
// IAM's codes and statuses.
func wireError(err error) error {
	var ie *iam.Error
	if errors.As(err, &ie) {
		return &awsproto.Error{Code: ie.Code, Message: ie.Message, Status: ie.HTTPStatus()}
	}
	var denied *authz.AccessDeniedError
	if errors.As(err, &denied) {
		code, message, status := denied.AWSError()
		return &awsproto.Error{Code: code, Message: message, Status: status}
	}
	var malformed *policy.MalformedError
	if errors.As(err, &malformed) {
		return &awsproto.Error{Code: iam.CodeMalformedPolicyDocument, Message: malformed.Message, Status: http.StatusBadRequest}
	}
	var size *policy.SizeError
	if errors.As(err, &size) {
		status := http.StatusBadRequest
		if size.Code() == iam.CodeLimitExceeded {
			status = http.StatusConflict
		}
		return &awsproto.Error{Code: size.Code(), Message: size.Error(), Status: status}
	}
	return err
}

// caller returns the authenticated principal of the request and its account: IAM calls act
// on the caller's own account.
func caller(ctx context.Context) (*iam.Principal, string, error) {
	c := auth.CallerFrom(ctx)
	if c == nil || c.Principal == nil {
		return nil, "", awsproto.MissingAuthenticationToken()
	}
	return c.Principal, c.Principal.AccountID, nil
}

// authorize asks the authorizer whether the caller may perform iam:<operation> on resource.
func (a *api) authorize(ctx context.Context, operation, resource string, keys ...authz.Key) error {
	return a.Authorizer.Authorize(ctx, authz.Check{Action: "iam:" + operation, Resource: resource, Keys: keys})
}

// start is the first step of every handler: who calls, in which account, and may they.
func (a *api) start(ctx context.Context, operation, resource string, keys ...authz.Key) (*iam.Principal, string, error) {
	p, account, err := caller(ctx)
	if err != nil {
		return nil, "", err
	}
	if resource == "" {
		resource = "*"
	}
	return p, account, a.authorize(ctx, operation, resource, keys...)
}

// requestTagKeys are the condition keys of a request that sets tags.
func requestTagKeys(tags []iam.Tag) []authz.Key {
	if len(tags) == 0 {
		return nil
	}
	keys := make([]authz.Key, 0, len(tags)+1)
	names := make([]string, 0, len(tags))
	for _, t := range tags {
		keys = append(keys, authz.Key{Name: "aws:RequestTag/" + t.Key, Type: policy.TypeString, Values: []string{t.Value}})
		names = append(names, t.Key)
	}
	return append(keys, authz.Key{Name: "aws:TagKeys", Type: policy.TypeStringList, Values: names})
}

func tagKeysKey(keys []string) []authz.Key {
	return []authz.Key{{Name: "aws:TagKeys", Type: policy.TypeStringList, Values: keys}}
}

func policyARNKey(arn string) authz.Key {
	return authz.Key{Name: "iam:PolicyARN", Type: policy.TypeString, Values: []string{arn}}
}

func boundaryKey(arn string) authz.Key {
	return authz.Key{Name: "iam:PermissionsBoundary", Type: policy.TypeString, Values: []string{arn}}
}

// implicitUser resolves the optional UserName of the access-key and MFA calls: omitted, it
// is the caller itself (a user, or the root user as ""). Role sessions must name a user.
func (a *api) implicitUser(ctx context.Context, p *iam.Principal, account string, name *string) (string, resource, error) {
	if name != nil && *name != "" {
		return *name, a.entity(ctx, account, iam.KindUser, *name), nil
	}
	switch {
	case p.Type == iam.PrincipalRoot:
		return "", resource{arn: iam.RootARN(account)}, nil
	case p.Type == iam.PrincipalUser && p.UserName != "":
		return p.UserName, a.entity(ctx, account, iam.KindUser, p.UserName), nil
	}
	return "", resource{}, &awsproto.Error{Code: "ValidationError", Status: http.StatusBadRequest,
		Message: "Must specify userName when calling with non-User credentials"}
}

// required reports missing members the way the query frontend does.
func required(fields ...any) error {
	var missing []awsproto.Violation
	for i := 0; i+1 < len(fields); i += 2 {
		path := fields[i].(string)
		switch v := fields[i+1].(type) {
		case *string:
			if v == nil {
				missing = append(missing, awsproto.Violation{Path: path, Constraint: "Member must not be null"})
			}
		case string:
			if v == "" {
				missing = append(missing, awsproto.Violation{Path: path, Constraint: "Member must not be null"})
			}
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return awsproto.ValidationFailed(awsproto.ProtocolQuery, missing)
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// tagIn is a tag as requests carry it.
type tagIn struct {
	Key   string `aws:"Key,required"`
	Value string `aws:"Value,required"`
}

func domainTags(in []tagIn) []iam.Tag {
	if len(in) == 0 {
		return nil
	}
	out := make([]iam.Tag, len(in))
	for i, t := range in {
		out[i] = iam.Tag{Key: t.Key, Value: t.Value}
	}
	return out
}

// Paging holds the pagination members of IAM's List* requests: an opaque Marker from the
// previous answer and MaxItems (1..1000, default 100). It is exported only so that the query
// decoder sees the members of the input structs that embed it.
type Paging struct {
	Marker   *string
	MaxItems *int32
}

// pageOf cuts one page out of items. The marker is the offset of the next item, opaque to
// clients.
func pageOf[T any](items []T, in Paging) (page []T, truncated bool, next *string, err error) {
	start := 0
	if in.Marker != nil {
		raw, decodeErr := base64.RawURLEncoding.DecodeString(*in.Marker)
		n, convErr := strconv.Atoi(strings.TrimPrefix(string(raw), "o:"))
		if decodeErr != nil || convErr != nil || !strings.HasPrefix(string(raw), "o:") || n < 0 {
			return nil, false, nil, iam.InvalidInput("Invalid Marker.")
		}
		start = min(n, len(items))
	}
	limit := 100
	if in.MaxItems != nil {
		if *in.MaxItems < 1 || *in.MaxItems > 1000 {
			value := strconv.Itoa(int(*in.MaxItems))
			constraint := "Member must have value greater than or equal to 1"
			if *in.MaxItems > 1000 {
				constraint = "Member must have value less than or equal to 1000"
			}
			return nil, false, nil, awsproto.ValidationFailed(awsproto.ProtocolQuery,
				[]awsproto.Violation{{Path: "maxItems", Value: &value, Constraint: constraint}})
		}
		limit = int(*in.MaxItems)
	}
	end := min(start+limit, len(items))
	page = items[start:end]
	if page == nil {
		page = []T{}
	}
	if end < len(items) {
		m := base64.RawURLEncoding.EncodeToString([]byte("o:" + strconv.Itoa(end)))
		return page, true, &m, nil
	}
	return page, false, nil, nil
}

// wirePage cuts one page out of items (see pageOf) and converts it to its wire form.
func wirePage[T, W any](items []T, in Paging, wire func(*T) W) ([]W, bool, *string, error) {
	page, truncated, next, err := pageOf(items, in)
	if err != nil {
		return nil, false, nil, err
	}
	out := make([]W, len(page))
	for i := range page {
		out[i] = wire(&page[i])
	}
	return out, truncated, next, nil
}

// encodeDocument percent-encodes a policy document as IAM returns it (RFC 3986: everything
// but unreserved characters escaped, spaces as %20); the CLI and boto3 decode it.
func encodeDocument(doc string) *string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(doc) * 2)
	for i := 0; i < len(doc); i++ {
		c := doc[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	s := b.String()
	return &s
}
