// Package stsapi serves AWS STS (GetCallerIdentity, AssumeRole, GetSessionToken) on Coffer's
// AWS endpoint, in the query protocol, with AWS's inputs, answers, checks and errors.
package stsapi
