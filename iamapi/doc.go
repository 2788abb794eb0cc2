// Package iamapi serves the IAM API in the AWS query protocol: users, groups, roles, keys,
// policies, MFA devices, account details and the policy simulator, each call authorized first.
package iamapi
