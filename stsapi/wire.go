package stsapi

import (
	"time"
)

// The wire shapes of the STS model (botocore sts 2011-06-15). Field names are the AWS member
// names, which DecodeQuery and the XML encoder use as they are.

type tag struct {
	Key   string `aws:"Key,required"`
	Value string `aws:"Value,required"`
}

type policyDescriptor struct {
	Arn string `aws:"arn"`
}

type getCallerIdentityInput struct{}

type getCallerIdentityOutput struct {
	UserId  string
	Account string
	Arn     string
}

type assumeRoleInput struct {
	RoleArn           string `aws:"RoleArn,required"`
	RoleSessionName   string `aws:"RoleSessionName,required"`
	PolicyArns        []policyDescriptor
	Policy            string
	DurationSeconds   *int
	Tags              []tag
	TransitiveTagKeys []string
	ExternalId        string
	SerialNumber      string
	TokenCode         string
	SourceIdentity    string
}

type credentials struct {
	AccessKeyId     string
	SecretAccessKey string
	SessionToken    string
	Expiration      time.Time
}

type assumedRoleUser struct {
	AssumedRoleId string
	Arn           string
}

type assumeRoleOutput struct {
	Credentials      credentials
	AssumedRoleUser  assumedRoleUser
	PackedPolicySize *int
	SourceIdentity   string
}

type getSessionTokenInput struct {
	DurationSeconds *int
	SerialNumber    string
	TokenCode       string
}

type getSessionTokenOutput struct {
	Credentials credentials
}
