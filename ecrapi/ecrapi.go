package ecrapi

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/coffer-registry/coffer/auth"
	"github.com/coffer-registry/coffer/authz"
	"github.com/coffer-registry/coffer/awsproto"
	"github.com/coffer-registry/coffer/blob"
	"github.com/coffer-registry/coffer/policy"
	"github.com/coffer-registry/coffer/store"
)

// TokenIssuer issues registry passwords for GetAuthorizationToken (auth/registrytoken.Tokens).
type TokenIssuer interface {
	Issue(ctx context.Context, caller *auth.Caller) (token string, expiresAt time.Time, err error)
}

// Deps is what the ECR API needs.
type Deps struct {
	Store      store.Store
	Blobs      blob.Store
	Authorizer authz.Authorizer
	Tokens     TokenIssuer
	// Region is the region of repository ARNs (default us-east-1).
	Region string
	// RegistryHost is the registry's public host[:port]; repositoryUri is HOST/ACCOUNT/NAME.
	RegistryHost string
	// RegistryScheme is "https" (default) or "http": of proxyEndpoint and download URLs.
	RegistryScheme string
	// ECRHostNames makes answers name registries the way ECR does, for
	// docker-credential-ecr-login and ECR-style image references (the names must resolve to
	// Coffer): repositoryUri is ACCOUNT.dkr.ecr.REGION.amazonaws.com[:PORT]/NAME, with the port
	// of RegistryHost, and proxyEndpoint is https://ACCOUNT.dkr.ecr.REGION.amazonaws.com.
	ECRHostNames bool
	// Quotas are ECR's service quotas; zero fields take ECR's defaults.
	Quotas Quotas
	Now    func() time.Time // nil: time.Now
	Logger *slog.Logger     // nil: slog.Default()
}

// Quotas are ECR's adjustable service quotas.
type Quotas struct {
	Repositories int // per registry (account); default 100,000
	LayerParts   int // UploadLayerPart calls per layer upload; default 4,200
}

type service struct {
	Deps
	policies policyCache
	uploads  keyedMutex
}

// Register adds ECR's operations to e.
func Register(e *awsproto.Endpoint, d Deps) {
	if d.Store == nil || d.Blobs == nil || d.Authorizer == nil || d.Tokens == nil {
		panic("ecrapi: Store, Blobs, Authorizer and Tokens are required")
	}
	if d.Region == "" {
		d.Region = "us-east-1"
	}
	if d.RegistryScheme == "" {
		d.RegistryScheme = "https"
	}
	if d.Quotas.Repositories <= 0 {
		d.Quotas.Repositories = 100000
	}
	if d.Quotas.LayerParts <= 0 {
		d.Quotas.LayerParts = 4200
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	s := &service{Deps: d}
	awsproto.Handle(e, awsproto.ECR, "CreateRepository", s.createRepository)
	awsproto.Handle(e, awsproto.ECR, "DescribeRepositories", s.describeRepositories)
	awsproto.Handle(e, awsproto.ECR, "DeleteRepository", s.deleteRepository)
	awsproto.Handle(e, awsproto.ECR, "PutImageTagMutability", s.putImageTagMutability)
	awsproto.Handle(e, awsproto.ECR, "PutImageScanningConfiguration", s.putImageScanningConfiguration)
	awsproto.Handle(e, awsproto.ECR, "TagResource", s.tagResource)
	awsproto.Handle(e, awsproto.ECR, "UntagResource", s.untagResource)
	awsproto.Handle(e, awsproto.ECR, "ListTagsForResource", s.listTagsForResource)
	awsproto.Handle(e, awsproto.ECR, "SetRepositoryPolicy", s.setRepositoryPolicy)
	awsproto.Handle(e, awsproto.ECR, "GetRepositoryPolicy", s.getRepositoryPolicy)
	awsproto.Handle(e, awsproto.ECR, "DeleteRepositoryPolicy", s.deleteRepositoryPolicy)
	awsproto.Handle(e, awsproto.ECR, "PutRegistryPolicy", s.putRegistryPolicy)
	awsproto.Handle(e, awsproto.ECR, "GetRegistryPolicy", s.getRegistryPolicy)
	awsproto.Handle(e, awsproto.ECR, "DeleteRegistryPolicy", s.deleteRegistryPolicy)
	awsproto.Handle(e, awsproto.ECR, "DescribeRegistry", s.describeRegistry)
	awsproto.Handle(e, awsproto.ECR, "GetAuthorizationToken", s.getAuthorizationToken)

	awsproto.Handle(e, awsproto.ECR, "ListImages", s.listImages)
	awsproto.Handle(e, awsproto.ECR, "DescribeImages", s.describeImages)
	awsproto.Handle(e, awsproto.ECR, "BatchGetImage", s.batchGetImage)
	awsproto.Handle(e, awsproto.ECR, "BatchDeleteImage", s.batchDeleteImage)
	awsproto.Handle(e, awsproto.ECR, "PutImage", s.putImage)
	awsproto.Handle(e, awsproto.ECR, "ListImageReferrers", s.listImageReferrers)

	awsproto.Handle(e, awsproto.ECR, "BatchCheckLayerAvailability", s.batchCheckLayerAvailability)
	awsproto.Handle(e, awsproto.ECR, "GetDownloadUrlForLayer", s.getDownloadURLForLayer)
	awsproto.Handle(e, awsproto.ECR, "InitiateLayerUpload", s.initiateLayerUpload)
	awsproto.Handle(e, awsproto.ECR, "UploadLayerPart", s.uploadLayerPart)
	awsproto.Handle(e, awsproto.ECR, "CompleteLayerUpload", s.completeLayerUpload)
}

// callerAccount is the account of the signed caller ("" when anonymous).
func callerAccount(ctx context.Context) string {
	if c := auth.CallerFrom(ctx); c != nil && c.Principal != nil {
		return c.Principal.AccountID
	}
	return ""
}

// registryOf is the account a request names with registryId, or the caller's.
func registryOf(ctx context.Context, registryID *string) (string, error) {
	if registryID != nil && *registryID != "" {
		if !isAccountID(*registryID) {
			return "", invalidParameter("Invalid parameter at 'registryId' failed to satisfy constraint: 'must satisfy regular expression '[0-9]{12}''")
		}
		return *registryID, nil
	}
	if a := callerAccount(ctx); a != "" {
		return a, nil
	}
	return "", invalidParameter("Invalid parameter at 'registryId' failed to satisfy constraint: 'registry id is required for anonymous callers'")
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func (s *service) repositoryARN(account, name string) string {
	return "arn:aws:ecr:" + s.Region + ":" + account + ":repository/" + name
}

func (s *service) repositoryURI(account, name string) string {
	if s.ECRHostNames {
		host := s.ecrHost(account)
		if _, port, err := net.SplitHostPort(s.RegistryHost); err == nil && port != "443" {
			host = net.JoinHostPort(host, port)
		}
		return host + "/" + name
	}
	return s.RegistryHost + "/" + account + "/" + name
}

// proxyEndpoint is the registry URL GetAuthorizationToken answers for an account.
func (s *service) proxyEndpoint(account string) string {
	if s.ECRHostNames {
		return "https://" + s.ecrHost(account)
	}
	return s.RegistryScheme + "://" + s.RegistryHost
}

// ecrHost is ECR's registry host name of an account.
func (s *service) ecrHost(account string) string {
	return account + ".dkr.ecr." + s.Region + ".amazonaws.com"
}

// target is a repository an operation acts on, found and authorized.
type target struct {
	account string
	repo    store.Repository
}

// repository authorizes action on the named repository of the request's registry and returns
// it. The check comes first, so a caller without permission learns nothing about whether the
// repository exists: a missing repository is authorized against its ARN without policy or tags.
func (s *service) repository(ctx context.Context, action string, registryID, name *string, keys ...authz.Key) (target, error) {
	account, err := registryOf(ctx, registryID)
	if err != nil {
		return target{}, err
	}
	if name == nil || *name == "" {
		return target{}, missing("repositoryName")
	}
	if err := checkRepositoryName(*name); err != nil {
		return target{}, err
	}
	repo, err := s.Store.GetRepository(ctx, account, *name)
	found := err == nil
	if err != nil && !errors.Is(err, store.ErrRepositoryNotFound) {
		return target{}, err
	}
	check := authz.Check{Action: action, Resource: s.repositoryARN(account, *name), ResourceAccount: account, Keys: keys}
	if found {
		check.Keys = append(check.Keys, resourceTagKeys(repo.Tags)...)
		if check.ResourcePolicy, err = s.policies.compile(repo.Policy, policy.KindRepository); err != nil {
			return target{}, err
		}
	}
	if check.RegistryPolicy, err = s.registryPolicy(ctx, account); err != nil {
		return target{}, err
	}
	if err := s.Authorizer.Authorize(ctx, check); err != nil {
		return target{}, err
	}
	if !found {
		return target{}, repositoryNotFound(*name, account)
	}
	return target{account: account, repo: repo}, nil
}

// registry authorizes an action without a resource type ("*") for the request's registry.
func (s *service) registry(ctx context.Context, action string, registryID *string) (string, error) {
	account, err := registryOf(ctx, registryID)
	if err != nil {
		return "", err
	}
	return account, s.Authorizer.Authorize(ctx, authz.Check{Action: action, Resource: "*", ResourceAccount: account})
}

// resourceTagKeys are aws:ResourceTag/K and ecr:ResourceTag/K for a repository's tags.
func resourceTagKeys(tags map[string]string) []authz.Key {
	keys := make([]authz.Key, 0, 2*len(tags))
	for k, v := range tags {
		keys = append(keys,
			authz.Key{Name: "aws:ResourceTag/" + k, Type: policy.TypeString, Values: []string{v}},
			authz.Key{Name: "ecr:ResourceTag/" + k, Type: policy.TypeString, Values: []string{v}})
	}
	return keys
}

// requestTagKeys are aws:RequestTag/K and aws:TagKeys for the tags a request sets.
func requestTagKeys(tags map[string]string) []authz.Key {
	keys := make([]authz.Key, 0, len(tags)+1)
	names := make([]string, 0, len(tags))
	for k, v := range tags {
		keys = append(keys, authz.Key{Name: "aws:RequestTag/" + k, Type: policy.TypeString, Values: []string{v}})
		names = append(names, k)
	}
	return append(keys, authz.Key{Name: "aws:TagKeys", Type: policy.TypeStringList, Values: names})
}

// policyCache keeps compiled repository policies by text: parsing on every call would cost
// more than the evaluation.
type policyCache struct {
	mu sync.Mutex
	m  map[string]*policy.Policy
}

const maxCachedPolicies = 4096

func (c *policyCache) compile(text string, kind policy.Kind) (*policy.Policy, error) {
	if text == "" {
		return nil, nil
	}
	key := kind.String() + "\x00" + text
	c.mu.Lock()
	p, ok := c.m[key]
	c.mu.Unlock()
	if ok {
		return p, nil
	}
	p, err := policy.Parse([]byte(text), kind)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxCachedPolicies {
		c.m = map[string]*policy.Policy{}
	}
	c.m[key] = p
	c.mu.Unlock()
	return p, nil
}

// keyedMutex serializes the parts of one layer upload.
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]*keyedLock
}

type keyedLock struct {
	sync.Mutex
	users int
}

func (k *keyedMutex) lock(key string) func() {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = map[string]*keyedLock{}
	}
	l := k.locks[key]
	if l == nil {
		l = &keyedLock{}
		k.locks[key] = l
	}
	l.users++
	k.mu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		k.mu.Lock()
		if l.users--; l.users == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
}

// downloadURL is where a client fetches a layer: the registry's blob route.
func (s *service) downloadURL(account, name, digest string) string {
	return s.RegistryScheme + "://" + s.RegistryHost + "/v2/" + account + "/" + name + "/blobs/" + digest
}
