// Package iam is Coffer's identity domain: accounts, users, groups, roles, policies, keys, MFA and sessions,
// with AWS's ids, ARNs, naming rules, quotas, errors and built-in managed policies (ReadOnlyAccess as of v182).
package iam
