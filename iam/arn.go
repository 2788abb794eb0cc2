package iam

import (
	"strings"
)

// Partition is the only partition Coffer speaks.
const Partition = "aws"

// AWSManagedAccount is the account part of AWS managed policy ARNs.
const AWSManagedAccount = "aws"

// EntityARN builds arn:aws:iam::ACCOUNT:KIND/PATH/NAME for a user, group, role, policy or mfa device.
func EntityARN(account, kind, path, name string) string {
	if path == "" {
		path = "/"
	}
	return "arn:aws:iam::" + account + ":" + kind + path + name
}

// UserARN, GroupARN, RoleARN, PolicyARN and MFAARN build the IAM ARNs of each kind.
func UserARN(account, path, name string) string   { return EntityARN(account, "user", path, name) }
func GroupARN(account, path, name string) string  { return EntityARN(account, "group", path, name) }
func RoleARN(account, path, name string) string   { return EntityARN(account, "role", path, name) }
func PolicyARN(account, path, name string) string { return EntityARN(account, "policy", path, name) }
func MFAARN(account, path, name string) string    { return EntityARN(account, "mfa", path, name) }

// RootARN is the ARN of an account's root user.
func RootARN(account string) string { return "arn:aws:iam::" + account + ":root" }

// AssumedRoleARN is the ARN of a role session.
func AssumedRoleARN(account, roleName, sessionName string) string {
	return "arn:aws:sts::" + account + ":assumed-role/" + roleName + "/" + sessionName
}

// Organizations ARNs.
func OrganizationARN(mgmt, orgID string) string {
	return "arn:aws:organizations::" + mgmt + ":organization/" + orgID
}
func OrganizationAccountARN(mgmt, orgID, account string) string {
	return "arn:aws:organizations::" + mgmt + ":account/" + orgID + "/" + account
}
func OrganizationRootARN(mgmt, orgID, rootID string) string {
	return "arn:aws:organizations::" + mgmt + ":root/" + orgID + "/" + rootID
}

// IAMResource is a parsed IAM ARN of the form arn:aws:iam::ACCOUNT:TYPE/PATH/NAME.
type IAMResource struct {
	Account string // 12 digits, or "aws" for AWS managed policies
	Type    string // user, group, role, policy, mfa
	Path    string // "/" or "/a/b/"
	Name    string
}

// ParseIAMARN splits an IAM ARN; ok is false when s is not one.
func ParseIAMARN(s string) (r IAMResource, ok bool) {
	rest, found := strings.CutPrefix(s, "arn:aws:iam::")
	if !found {
		return r, false
	}
	account, resource, found := strings.Cut(rest, ":")
	if !found || (account != AWSManagedAccount && !IsAccountID(account)) {
		return r, false
	}
	typ, pathAndName, found := strings.Cut(resource, "/")
	if !found || typ == "" || pathAndName == "" {
		return r, false
	}
	i := strings.LastIndexByte(pathAndName, '/')
	r = IAMResource{Account: account, Type: typ, Path: "/" + pathAndName[:i+1], Name: pathAndName[i+1:]}
	if r.Name == "" {
		return IAMResource{}, false
	}
	return r, true
}

// ParsePolicyARN parses a managed policy ARN (customer or AWS managed).
func ParsePolicyARN(s string) (IAMResource, bool) {
	r, ok := ParseIAMARN(s)
	if !ok || r.Type != "policy" {
		return IAMResource{}, false
	}
	return r, true
}

// IsAWSManagedPolicyARN reports whether arn names a policy owned by AWS.
func IsAWSManagedPolicyARN(arn string) bool {
	return strings.HasPrefix(arn, "arn:aws:iam::aws:policy/")
}
