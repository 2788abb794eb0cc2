package policy

import (
	"fmt"
	"strings"
)

// PrincipalType is the kind of caller making a request.
type PrincipalType uint8

const (
	PrincipalAnonymous     PrincipalType = iota // unsigned request
	PrincipalUser                               // IAM user
	PrincipalAssumedRole                        // role session (AssumeRole*)
	PrincipalRoot                               // account root user
	PrincipalFederatedUser                      // GetFederationToken session
	PrincipalService                            // AWS service principal, e.g. ecs-tasks.amazonaws.com
	PrincipalWebIdentity                        // identity provider (SAML / OIDC) in AssumeRoleWith*
)

// Principal is the caller. ARN is the user, session, federated-user or root ARN (the
// service name or identity-provider ARN for those types); RoleARN is the role of a session.
type Principal struct {
	Type    PrincipalType
	ARN     string
	Account string
	RoleARN string
}

type principalKind uint8

const (
	pAny       principalKind = iota + 1 // "*"
	pAccount                            // account id or arn:aws:iam::A:root
	pRole                               // arn:aws:iam::A:role/...
	pExact                              // user, assumed-role session, federated user and other ARNs
	pService                            // {"Service": ...}
	pFederated                          // {"Federated": ...}
	pCanonical                          // {"CanonicalUser": ...}: never an IAM caller
)

// grant ranks how a resource policy names the caller, which decides the implicit denies
// it overrides in the same account.
type grant uint8

const (
	grantNone    grant = iota
	grantAccount       // account: the identity side must still allow
	grantRole          // role ARN for a session: overrides identity policies only
	grantDirect        // user/session ARN or "*": overrides identity, boundary and session policies
)

type principalEntry struct {
	kind  principalKind
	value string // account id, or the ARN / name to compare
}

type principalSpec struct {
	star    bool     // written as the bare string "*"
	blocks  []string // block names in written order (AWS, Service, ...)
	values  [][]string
	singles []bool // block written as a scalar
	entries []principalEntry
}

func compilePrincipalEntry(block, v string) principalEntry {
	switch block {
	case "Service":
		if v == "*" {
			return principalEntry{kind: pAny}
		}
		return principalEntry{kind: pService, value: v}
	case "Federated":
		return principalEntry{kind: pFederated, value: v}
	case "CanonicalUser":
		return principalEntry{kind: pCanonical, value: v}
	}
	if v == "*" {
		return principalEntry{kind: pAny}
	}
	if len(v) == 12 && isDigits(v) {
		return principalEntry{kind: pAccount, value: v}
	}
	if acct, rest, ok := iamARN(v); ok {
		switch {
		case rest == "root":
			return principalEntry{kind: pAccount, value: acct}
		case strings.HasPrefix(rest, "role/"):
			return principalEntry{kind: pRole, value: v}
		}
	}
	return principalEntry{kind: pExact, value: v}
}

// iamARN splits arn:PARTITION:iam::ACCOUNT:REST.
func iamARN(s string) (account, rest string, ok bool) {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "iam" {
		return "", "", false
	}
	return parts[4], parts[5], true
}

// match reports how the entry names p.
func (e *principalEntry) match(p *Principal) grant {
	switch e.kind {
	case pAny:
		return grantDirect
	case pAccount:
		if p.Type != PrincipalAnonymous && p.Type != PrincipalService && p.Type != PrincipalWebIdentity && p.Account == e.value {
			return grantAccount
		}
	case pRole:
		if p.Type == PrincipalAssumedRole && p.RoleARN == e.value {
			return grantRole
		}
	case pExact:
		if p.Type != PrincipalAnonymous && p.Type != PrincipalService && p.ARN == e.value {
			return grantDirect
		}
	case pService:
		if p.Type == PrincipalService && p.ARN == e.value {
			return grantDirect
		}
	case pFederated:
		if p.Type == PrincipalWebIdentity && p.ARN == e.value {
			return grantDirect
		}
	}
	return grantNone
}

// best is the strongest way any entry names p.
func (s *principalSpec) best(p *Principal) grant {
	g := grantNone
	for i := range s.entries {
		if m := s.entries[i].match(p); m > g {
			g = m
		}
	}
	return g
}

// spares reports whether a NotPrincipal list exempts p. AWS checks each identity in the
// caller's chain (account, then role, then session or user), so the list must name the
// account as well as the user, or the account as well as the role or its session.
func (s *principalSpec) spares(p *Principal) bool {
	account, role, exact := false, false, false
	for i := range s.entries {
		switch s.entries[i].match(p) {
		case grantDirect:
			if s.entries[i].kind == pAny {
				return true
			}
			exact = true
		case grantRole:
			role = true
		case grantAccount:
			account = true
		}
	}
	switch p.Type {
	case PrincipalRoot:
		return account
	case PrincipalUser, PrincipalFederatedUser:
		return account && exact
	case PrincipalAssumedRole:
		return account && (role || exact)
	case PrincipalService, PrincipalWebIdentity:
		return exact
	}
	return false
}

// PrincipalFromARN builds the caller for an IAM user, account root, assumed-role session or
// federated-user ARN. For a session the role ARN is derived without a path; callers that
// know the role's path should set RoleARN themselves.
func PrincipalFromARN(arn string) (Principal, error) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || !isDigits(parts[4]) {
		return Principal{}, fmt.Errorf("policy: %q is not a principal ARN", arn)
	}
	partition, service, acct, res := parts[1], parts[2], parts[4], parts[5]
	switch {
	case service == "iam" && res == "root":
		return Principal{Type: PrincipalRoot, ARN: arn, Account: acct}, nil
	case service == "iam" && strings.HasPrefix(res, "user/"):
		return Principal{Type: PrincipalUser, ARN: arn, Account: acct}, nil
	case service == "sts" && strings.HasPrefix(res, "assumed-role/"):
		rest := strings.TrimPrefix(res, "assumed-role/")
		slash := strings.LastIndexByte(rest, '/')
		if slash <= 0 || slash == len(rest)-1 {
			return Principal{}, fmt.Errorf("policy: %q is not an assumed-role ARN", arn)
		}
		return Principal{Type: PrincipalAssumedRole, ARN: arn, Account: acct,
			RoleARN: "arn:" + partition + ":iam::" + acct + ":role/" + rest[:slash]}, nil
	case service == "sts" && strings.HasPrefix(res, "federated-user/"):
		return Principal{Type: PrincipalFederatedUser, ARN: arn, Account: acct}, nil
	}
	return Principal{}, fmt.Errorf("policy: %q is not a principal ARN", arn)
}
