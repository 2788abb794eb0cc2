package registry

import (
	"errors"
	"net/http"

	"github.com/coffer-registry/coffer/store"
)

// Access is one permission a request needs: an ECR action on one repository. The
// Authorize hook is called once per Access, before the request does any work.
type Access struct {
	Account    string // 12-digit id of the account that owns the repository
	Repository string // ECR repository name, e.g. "team/app"
	Action     string // ECR action, e.g. "ecr:BatchGetImage"
	Resource   string // repository ARN: arn:aws:ecr:REGION:ACCOUNT:repository/NAME
	// Loaded says the registry read the repository for this request: Policy and Tags are
	// then its policy document ("" when none) and tags, as fresh as the request, and a hook
	// needs not read them again. A repository that does not exist is Loaded with neither.
	Loaded bool
	Policy string
	Tags   map[string]string
	// RegistryPolicy is, when Loaded, the owning account's registry policy document ("" when
	// none): ECR's V2 scope enforces it on every ECR request beside the repository policy.
	RegistryPolicy string
}

// ecrActions is the ECR action each registry operation is authorized as
// (iam-ecr-semantics.md §2.3). An empty action means "authentication only".
var ecrActions = [opCount]string{
	opPing:           "",
	opCatalog:        "ecr:DescribeRepositories", // per listed repository: filters the list
	opManifestGet:    "ecr:BatchGetImage",
	opManifestHead:   "ecr:BatchGetImage",
	opManifestPut:    "ecr:PutImage",
	opManifestDelete: "ecr:BatchDeleteImage",
	opBlobGet:        "ecr:GetDownloadUrlForLayer",
	opBlobHead:       "ecr:BatchCheckLayerAvailability",
	opBlobDelete:     "ecr:BatchDeleteImage",
	opUploadStart:    "ecr:InitiateLayerUpload",
	opUploadStatus:   "ecr:UploadLayerPart", // acts on an upload in progress
	opUploadChunk:    "ecr:UploadLayerPart",
	opUploadComplete: "ecr:CompleteLayerUpload",
	opUploadCancel:   "ecr:UploadLayerPart", // acts on an upload in progress
	opTagsList:       "ecr:ListImages",
	opReferrers:      "ecr:BatchGetImage", // as ECR's ListImageReferrers
}

const (
	// mountSourceAction is needed on the source repository of a cross-repository mount
	// (POST .../blobs/uploads/?mount=D&from=ACCOUNT/NAME). Without it the mount is not
	// done and the client gets an ordinary upload session instead.
	mountSourceAction = "ecr:GetDownloadUrlForLayer"
	// createRepositoryAction is needed when CreateOnPush creates a missing repository.
	createRepositoryAction = "ecr:CreateRepository"
)

// repositoryAccess is the permission rt needs on its own repository; ok is false for
// operations that need none (ping) or that authorize per item (catalog).
func (h *Handler) repositoryAccess(rt route) (Access, bool) {
	action := ecrActions[rt.op]
	if action == "" || rt.op == opCatalog {
		return Access{}, false
	}
	return h.access(rt.account, rt.name, action), true
}

// accessTo is the permission to act on a repository the registry has read (or found
// missing, when repo is nil).
func (h *Handler) accessTo(account, name string, repo *store.Repository, action string) Access {
	a := h.access(account, name, action)
	a.Loaded = true
	if repo != nil {
		a.Policy, a.Tags = repo.Policy, repo.Tags
	}
	return a
}

// loadForAccess reads the route's repository before it is authorized, so that the
// Authorize hook gets its policy and tags and the handler does not read it again. A missing
// repository is no error here: the request is authorized first, then answered NAME_UNKNOWN.
func (h *Handler) loadForAccess(r *http.Request, rt *route, a Access) (Access, error) {
	repo, err := h.meta.GetRepository(r.Context(), rt.account, rt.name)
	switch {
	case err == nil:
		rt.repo = &repo
		return h.accessTo(rt.account, rt.name, &repo, a.Action), nil
	case errors.Is(err, store.ErrRepositoryNotFound):
		return h.accessTo(rt.account, rt.name, nil, a.Action), nil
	}
	return a, err
}

func (h *Handler) access(account, name, action string) Access {
	return Access{
		Account:    account,
		Repository: name,
		Action:     action,
		Resource:   "arn:aws:ecr:" + h.region + ":" + account + ":repository/" + name,
	}
}

// allowed asks the Authorize hook; a nil hook allows everything.
func (h *Handler) allowed(r *http.Request, a Access) error {
	if h.authorize == nil {
		return nil
	}
	if a.Loaded {
		doc, err := h.meta.RegistryPolicy(r.Context(), a.Account)
		switch {
		case errors.Is(err, store.ErrPolicyNotFound):
		case err != nil:
			return err // undecidable: fail closed
		default:
			a.RegistryPolicy = doc
		}
	}
	if err := h.authorize(r, a); err != nil {
		return asHookError(err, Denied)
	}
	return nil
}

// Operation is what a /v2/ request is, as routing decides it, for the audit trail and logs.
type Operation struct {
	Name       string // "manifest get", "blob head", "ping", ...
	Action     string // the ECR action it is authorized as; "" for the ping
	Account    string // owner of the repository; "" for ping and catalog
	Repository string // NAME
	Reference  string // tag or digest, blob or subject digest, upload id
	ReadOnly   bool
}

// Describe routes r the way ServeHTTP does, without serving it; ok is false when r is not a
// registry operation (an unknown path or method).
func (h *Handler) Describe(r *http.Request) (Operation, bool) {
	rt, err := parseRoute(r.Method, r.URL.Path)
	if err != nil {
		return Operation{}, false
	}
	return operationOf(r, rt), true
}

// operationOf is what rt, the route of r, is.
func operationOf(r *http.Request, rt route) Operation {
	ref := rt.reference()
	if ref == "" {
		ref = rt.upload
	}
	return Operation{Name: rt.op.String(), Action: ecrActions[rt.op], Account: rt.account, Repository: rt.name,
		Reference: ref, ReadOnly: r.Method == http.MethodGet || r.Method == http.MethodHead}
}
