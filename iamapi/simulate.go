package iamapi

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/coffer-registry/coffer/auth"
	"github.com/coffer-registry/coffer/awsproto"
	"github.com/coffer-registry/coffer/iam"
	"github.com/coffer-registry/coffer/policy"
)

type contextEntryIn struct {
	ContextKeyName   *string
	ContextKeyType   *string
	ContextKeyValues []string
}

// simulationIn holds the members SimulateCustomPolicy and SimulatePrincipalPolicy share.
type simulationIn struct {
	PolicySourceArn                    *string // SimulatePrincipalPolicy only
	PolicyInputList                    []string
	PermissionsBoundaryPolicyInputList []string
	ActionNames                        []string `aws:"ActionNames,required"`
	ResourceArns                       []string
	ResourcePolicy                     *string
	ResourceOwner                      *string
	CallerArn                          *string
	ContextEntries                     []contextEntryIn
	ResourceHandlingOption             *string
	Paging
}

// callerSupplied is the SourcePolicyType of documents given in the request (PolicyInputList,
// PermissionsBoundaryPolicyInputList): none, so the element is left out, as in IAM's answers.
const callerSupplied iamtypes.PolicySourceType = ""

// labelled is a compiled policy with the id and type the simulator reports for it.
type labelled struct {
	policy *policy.Policy
	typ    iamtypes.PolicySourceType
}

// simulation is one simulator request made ready for the engine.
type simulation struct {
	caller   policy.Principal
	owner    string
	context  *policy.Context
	identity []*policy.Policy
	boundary *policy.Policy
	resource *policy.Policy
	// labels maps each policy's internal name (unique: a user's and a group's inline
	// policies may share a name) to what the answer says about it.
	labels map[string]label
}

// label is what MatchedStatements report about a policy.
type label struct {
	id  string // SourcePolicyId
	typ iamtypes.PolicySourceType
	doc string
}

// add records a policy's label and gives it a unique internal name.
func (s *simulation) add(p labelled) {
	if s.labels == nil {
		s.labels = map[string]label{}
	}
	internal := fmt.Sprintf("#%d", len(s.labels))
	s.labels[internal] = label{id: p.policy.Name, typ: p.typ, doc: p.policy.Document()}
	p.policy.Name = internal
}

func (a *api) registerSimulator(e *awsproto.Endpoint) {
	op(e, "SimulateCustomPolicy", func(ctx context.Context, in *simulationIn) (*sdk.SimulateCustomPolicyOutput, error) {
		if in.PolicyInputList == nil {
			return nil, awsproto.ValidationFailed(awsproto.ProtocolQuery, []awsproto.Violation{{Path: "policyInputList", Constraint: "Member must not be null"}})
		}
		if _, _, err := a.start(ctx, "SimulateCustomPolicy", "*"); err != nil {
			return nil, err
		}
		sim := &simulation{}
		for i, doc := range in.PolicyInputList {
			p, err := parseInput(doc, policy.KindManaged, fmt.Sprintf("PolicyInputList.%d", i+1))
			if err != nil {
				return nil, err
			}
			sim.identity = append(sim.identity, p)
			sim.add(labelled{p, callerSupplied})
		}
		results, truncated, marker, err := a.simulate(ctx, sim, in, "")
		if err != nil {
			return nil, err
		}
		return &sdk.SimulateCustomPolicyOutput{EvaluationResults: results, IsTruncated: truncated, Marker: marker}, nil
	})

	op(e, "SimulatePrincipalPolicy", func(ctx context.Context, in *simulationIn) (*sdk.SimulatePrincipalPolicyOutput, error) {
		if err := required("policySourceArn", in.PolicySourceArn); err != nil {
			return nil, err
		}
		_, account, err := a.start(ctx, "SimulatePrincipalPolicy", *in.PolicySourceArn)
		if err != nil {
			return nil, err
		}
		sim := &simulation{}
		defaultCaller, err := a.principalPolicies(ctx, account, *in.PolicySourceArn, sim)
		if err != nil {
			return nil, err
		}
		for i, doc := range in.PolicyInputList {
			p, err := parseInput(doc, policy.KindManaged, fmt.Sprintf("PolicyInputList.%d", i+1))
			if err != nil {
				return nil, err
			}
			sim.identity = append(sim.identity, p)
			sim.add(labelled{p, callerSupplied})
		}
		results, truncated, marker, err := a.simulate(ctx, sim, in, defaultCaller)
		if err != nil {
			return nil, err
		}
		return &sdk.SimulatePrincipalPolicyOutput{EvaluationResults: results, IsTruncated: truncated, Marker: marker}, nil
	})
}

// parseInput compiles one policy given to the simulator; a document that does not parse is
// MalformedPolicyDocument with the engine's text.
func parseInput(doc string, kind policy.Kind, name string) (*policy.Policy, error) {
	p, err := policy.Parse([]byte(doc), kind)
	if err != nil {
		return nil, err
	}
	p.Name = name
	return p, nil
}

// principalPolicies loads the policies of the user, group or role that PolicySourceArn names:
// for a user its inline and attached policies, those of its groups, and its boundary. It
// returns the caller ARN to use when the request names none ("" for a group).
func (a *api) principalPolicies(ctx context.Context, account, sourceARN string, sim *simulation) (string, error) {
	r, ok := iam.ParseIAMARN(sourceARN)
	if !ok || r.Account != account {
		return "", iam.InvalidInput("Invalid ARN: %s", sourceARN)
	}
	ref := iam.EntityRef{Account: account, Name: r.Name}
	switch r.Type {
	case "user":
		ref.Kind = iam.KindUser
		u, err := a.Store.GetUser(ctx, account, r.Name)
		if err != nil {
			return "", err
		}
		if err := a.entityPolicies(ctx, ref, iamtypes.PolicySourceTypeUser, sim); err != nil {
			return "", err
		}
		groups, err := a.Store.ListGroupsForUser(ctx, account, r.Name)
		if err != nil {
			return "", err
		}
		for _, g := range groups {
			gref := iam.EntityRef{Account: account, Kind: iam.KindGroup, Name: g.Name}
			if err := a.entityPolicies(ctx, gref, iamtypes.PolicySourceTypeGroup, sim); err != nil {
				return "", err
			}
		}
		return u.ARN, a.storedBoundary(ctx, account, u.PermissionsBoundary, sim)
	case "group":
		ref.Kind = iam.KindGroup
		if _, err := a.Store.LookupGroup(ctx, account, r.Name); err != nil {
			return "", err
		}
		return "", a.entityPolicies(ctx, ref, iamtypes.PolicySourceTypeGroup, sim)
	case "role":
		ref.Kind = iam.KindRole
		role, err := a.Store.GetRole(ctx, account, r.Name)
		if err != nil {
			return "", err
		}
		if err := a.entityPolicies(ctx, ref, iamtypes.PolicySourceTypeRole, sim); err != nil {
			return "", err
		}
		return role.ARN, a.storedBoundary(ctx, account, role.PermissionsBoundary, sim)
	}
	return "", iam.InvalidInput("Invalid ARN: %s", sourceARN)
}

// entityPolicies compiles an entity's inline policies and the default versions of the
// managed policies attached to it.
func (a *api) entityPolicies(ctx context.Context, ref iam.EntityRef, inlineType iamtypes.PolicySourceType, sim *simulation) error {
	names, err := a.Store.ListInlinePolicies(ctx, ref)
	if err != nil {
		return err
	}
	for _, name := range names {
		ip, err := a.Store.GetInlinePolicy(ctx, ref, name)
		if err != nil {
			return err
		}
		p, err := parseInput(ip.Document, policy.Kind(ref.Kind.InlineKind()), name)
		if err != nil {
			return err
		}
		sim.identity = append(sim.identity, p)
		sim.add(labelled{p, inlineType})
	}
	attached, err := a.Store.ListAttachedPolicies(ctx, ref)
	if err != nil {
		return err
	}
	for _, ap := range attached {
		p, typ, err := a.managedPolicy(ctx, ref.Account, ap.ARN, policy.KindManaged)
		if err != nil {
			return err
		}
		sim.identity = append(sim.identity, p)
		sim.add(labelled{p, typ})
	}
	return nil
}

func (a *api) storedBoundary(ctx context.Context, account, arn string, sim *simulation) error {
	if arn == "" {
		return nil
	}
	p, typ, err := a.managedPolicy(ctx, account, arn, policy.KindBoundary)
	if err != nil {
		return err
	}
	sim.boundary = p
	sim.add(labelled{p, typ})
	return nil
}

func (a *api) managedPolicy(ctx context.Context, account, arn string, kind policy.Kind) (*policy.Policy, iamtypes.PolicySourceType, error) {
	mp, err := a.Store.GetPolicy(ctx, account, arn)
	if err != nil {
		return nil, "", err
	}
	v, err := a.Store.GetPolicyVersion(ctx, account, arn, mp.DefaultVersionID)
	if err != nil {
		return nil, "", err
	}
	typ := iamtypes.PolicySourceTypeUserManaged
	if mp.AWSManaged() {
		kind, typ = policy.KindAWSManaged, iamtypes.PolicySourceTypeAwsManaged
	}
	p, err := parseInput(v.Document, kind, mp.Name)
	if err != nil {
		return nil, "", err
	}
	return p, typ, nil
}

// simulate evaluates every action on every resource with exactly the context entries given.
func (a *api) simulate(ctx context.Context, sim *simulation, in *simulationIn, defaultCaller string) ([]iamtypes.EvaluationResult, bool, *string, error) {
	if err := a.prepare(ctx, sim, in, defaultCaller); err != nil {
		return nil, false, nil, err
	}
	resources := in.ResourceArns
	if len(resources) == 0 {
		resources = []string{"*"}
	}
	set := &policy.PolicySet{Identity: sim.identity, Boundary: sim.boundary}
	var results []iamtypes.EvaluationResult
	for _, action := range in.ActionNames {
		for _, resource := range resources {
			set.Resource = sim.resource
			if sim.resource != nil && sim.resource.Kind() == policy.KindTrust && !isAssumeRole(action) {
				set.Resource = nil
			}
			req := &policy.Request{Principal: sim.caller, Action: action, Resource: resource, ResourceAccount: sim.owner,
				Context: sim.context}
			results = append(results, sim.result(req, set))
		}
	}
	return pageOf(results, in.Paging)
}

// prepare reads the caller, the resource owner, the resource policy, the boundary inputs and
// the context entries.
func (a *api) prepare(ctx context.Context, sim *simulation, in *simulationIn, defaultCaller string) error {
	for i, doc := range in.PermissionsBoundaryPolicyInputList {
		p, err := parseInput(doc, policy.KindBoundary, fmt.Sprintf("PermissionsBoundaryPolicyInputList.%d", i+1))
		if err != nil {
			return err
		}
		if i > 0 {
			return iam.InvalidInput("Only one permissions boundary policy may be simulated.")
		}
		sim.boundary = p
		sim.add(labelled{p, callerSupplied})
	}
	callerARN := str(in.CallerArn)
	if callerARN == "" {
		callerARN = defaultCaller
	}
	switch {
	case callerARN != "":
		p, err := principalFromARN(callerARN)
		if err != nil {
			return err
		}
		sim.caller = p
	case in.ResourcePolicy != nil:
		return iam.InvalidInput("CallerArn must be specified when a ResourcePolicy is simulated.")
	default:
		// Identity policies alone: the caller is the one asking, evaluated as an IAM
		// principal (the root user would otherwise be exempt from the policies simulated).
		if c := auth.CallerFrom(ctx); c != nil {
			sim.caller = c.Engine
			if sim.caller.Type == policy.PrincipalRoot {
				sim.caller.Type = policy.PrincipalUser
			}
		}
	}
	if owner := str(in.ResourceOwner); owner != "" {
		account := owner
		if parts := strings.SplitN(owner, ":", 6); len(parts) == 6 {
			account = parts[4]
		}
		if !iam.IsAccountID(account) {
			return iam.InvalidInput("Invalid ResourceOwner: %s", owner)
		}
		sim.owner = account
	}
	if in.ResourcePolicy != nil {
		kind := policy.KindRepository
		if trustSimulation(in) {
			kind = policy.KindTrust
		}
		p, err := parseInput(*in.ResourcePolicy, kind, "ResourcePolicy")
		if err != nil {
			return err
		}
		sim.resource = p
		sim.add(labelled{p, iamtypes.PolicySourceTypeResource})
	}
	sim.context = policy.NewContext()
	for _, entry := range in.ContextEntries {
		name, typeName := str(entry.ContextKeyName), str(entry.ContextKeyType)
		if name == "" {
			return iam.InvalidInput("A context entry must have a ContextKeyName.")
		}
		typ, err := policy.ParseValueType(typeName)
		if err != nil {
			return iam.InvalidInput("Invalid ContextKeyType %q for context key %s.", typeName, name)
		}
		if err := sim.context.Set(name, typ, entry.ContextKeyValues...); err != nil {
			return iam.InvalidInput("Invalid value for context key %s: %v", name, err)
		}
	}
	return nil
}

// trustSimulation reports a resource policy that is a role's trust policy: every action is
// an sts:AssumeRole* action and every resource a role.
func trustSimulation(in *simulationIn) bool {
	if len(in.ResourceArns) == 0 {
		return false
	}
	for _, action := range in.ActionNames {
		if !isAssumeRole(action) {
			return false
		}
	}
	for _, r := range in.ResourceArns {
		if res, ok := iam.ParseIAMARN(r); !ok || res.Type != "role" {
			return false
		}
	}
	return true
}

func isAssumeRole(action string) bool {
	return strings.HasPrefix(strings.ToLower(action), "sts:assumerole")
}

// principalFromARN is the simulated caller: a user, the root user, a role session, or a
// role (which the simulator treats as a session of the role, where AWS accepts only users).
func principalFromARN(arn string) (policy.Principal, error) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || !iam.IsAccountID(parts[4]) {
		return policy.Principal{}, iam.InvalidInput("Invalid CallerArn: %s", arn)
	}
	account, resource := parts[4], parts[5]
	switch {
	case parts[2] == "iam" && resource == "root":
		return policy.Principal{Type: policy.PrincipalRoot, ARN: arn, Account: account}, nil
	case parts[2] == "iam" && strings.HasPrefix(resource, "user/"):
		return policy.Principal{Type: policy.PrincipalUser, ARN: arn, Account: account}, nil
	case parts[2] == "iam" && strings.HasPrefix(resource, "role/"):
		return policy.Principal{Type: policy.PrincipalAssumedRole, ARN: arn, Account: account, RoleARN: arn}, nil
	case parts[2] == "sts" && strings.HasPrefix(resource, "assumed-role/"):
		rest := strings.TrimPrefix(resource, "assumed-role/")
		slash := strings.LastIndexByte(rest, '/')
		if slash <= 0 {
			break
		}
		return policy.Principal{Type: policy.PrincipalAssumedRole, ARN: arn, Account: account,
			RoleARN: "arn:" + parts[1] + ":iam::" + account + ":role/" + rest[:slash]}, nil
	case parts[2] == "sts" && strings.HasPrefix(resource, "federated-user/"):
		return policy.Principal{Type: policy.PrincipalFederatedUser, ARN: arn, Account: account}, nil
	}
	return policy.Principal{}, iam.InvalidInput("Invalid CallerArn: %s", arn)
}

// result runs the engine on one action and resource and shapes its answer.
func (s *simulation) result(req *policy.Request, set *policy.PolicySet) iamtypes.EvaluationResult {
	out := policy.Simulate(req, set)
	decision := iamtypes.PolicyEvaluationDecisionType(out.Decision.Outcome.String())
	matched := []iamtypes.Statement{}
	boundaryAllows, boundaryDenies := false, false
	for _, m := range out.Matched {
		if m.Source == policy.SourceBoundary {
			boundaryAllows = boundaryAllows || m.Effect == policy.Allow
			boundaryDenies = boundaryDenies || m.Effect == policy.Deny
		}
		if out.Decision.Outcome == policy.ExplicitDeny && m.Effect != policy.Deny {
			continue
		}
		l := s.labels[m.PolicyName]
		matched = append(matched, iamtypes.Statement{SourcePolicyId: aws.String(l.id), SourcePolicyType: l.typ,
			StartPosition: &iamtypes.Position{Line: int32(m.Start.Line), Column: int32(m.Start.Column)},
			EndPosition:   &iamtypes.Position{Line: int32(m.End.Line), Column: int32(m.End.Column)}})
	}
	missing := out.MissingContextValues
	if missing == nil {
		missing = []string{}
	}
	res := iamtypes.EvaluationResult{EvalActionName: aws.String(req.Action), EvalResourceName: aws.String(req.Resource),
		EvalDecision: decision, MatchedStatements: matched, MissingContextValues: missing}
	if set.Boundary != nil {
		res.PermissionsBoundaryDecisionDetail = &iamtypes.PermissionsBoundaryDecisionDetail{
			AllowedByPermissionsBoundary: boundaryAllows && !boundaryDenies}
	}
	if req.Resource != "*" {
		res.ResourceSpecificResults = []iamtypes.ResourceSpecificResult{{EvalResourceName: aws.String(req.Resource),
			EvalResourceDecision: decision, MatchedStatements: matched, MissingContextValues: missing,
			PermissionsBoundaryDecisionDetail: res.PermissionsBoundaryDecisionDetail}}
	}
	return res
}
