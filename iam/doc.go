// Package iam is Coffer's identity domain: accounts and their organization, users, groups, roles,
// policies, access keys, MFA devices and sessions, with AWS's ids, ARNs, naming rules, quotas and errors.
//
// Persistence lives in iam/iamsql. The AWS managed policies under managed/ are AWS's published
// documents; ReadOnlyAccess reflects its version v182 (updated 2026-04-03).
package iam
