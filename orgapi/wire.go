package orgapi

import "github.com/coffer-registry/coffer/awsproto"

// The wire shapes of the Organizations model (botocore organizations 2016-11-28).

type organization struct {
	Id                   string              `json:"Id"`
	Arn                  string              `json:"Arn"`
	FeatureSet           string              `json:"FeatureSet"`
	MasterAccountArn     string              `json:"MasterAccountArn"`
	MasterAccountId      string              `json:"MasterAccountId"`
	MasterAccountEmail   string              `json:"MasterAccountEmail"`
	AvailablePolicyTypes []policyTypeSummary `json:"AvailablePolicyTypes"`
}

type policyTypeSummary struct {
	Type   string `json:"Type"`
	Status string `json:"Status"`
}

type describeOrganizationInput struct{}

type describeOrganizationOutput struct {
	Organization organization `json:"Organization"`
}

type tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

type createAccountInput struct {
	Email                  string `json:"Email" aws:",required"`
	AccountName            string `json:"AccountName" aws:",required"`
	RoleName               string `json:"RoleName"`
	IamUserAccessToBilling string `json:"IamUserAccessToBilling"`
	Tags                   []tag  `json:"Tags"`
}

type createAccountStatus struct {
	Id                 string              `json:"Id"`
	AccountName        string              `json:"AccountName,omitempty"`
	State              string              `json:"State"`
	RequestedTimestamp awsproto.EpochTime  `json:"RequestedTimestamp"`
	CompletedTimestamp *awsproto.EpochTime `json:"CompletedTimestamp,omitempty"`
	AccountId          string              `json:"AccountId,omitempty"`
	FailureReason      string              `json:"FailureReason,omitempty"`
}

type createAccountOutput struct {
	CreateAccountStatus createAccountStatus `json:"CreateAccountStatus"`
}

type describeCreateAccountStatusInput struct {
	CreateAccountRequestId string `json:"CreateAccountRequestId" aws:",required"`
}

type describeCreateAccountStatusOutput struct {
	CreateAccountStatus createAccountStatus `json:"CreateAccountStatus"`
}

type listCreateAccountStatusInput struct {
	States     []string `json:"States"`
	NextToken  *string  `json:"NextToken"`
	MaxResults *int     `json:"MaxResults"`
}

type listCreateAccountStatusOutput struct {
	CreateAccountStatuses []createAccountStatus `json:"CreateAccountStatuses"`
	NextToken             *string               `json:"NextToken,omitempty"`
}

type account struct {
	Id              string             `json:"Id"`
	Arn             string             `json:"Arn"`
	Email           string             `json:"Email"`
	Name            string             `json:"Name"`
	Status          string             `json:"Status"`
	State           string             `json:"State"`
	JoinedMethod    string             `json:"JoinedMethod"`
	JoinedTimestamp awsproto.EpochTime `json:"JoinedTimestamp"`
}

type describeAccountInput struct {
	AccountId string `json:"AccountId" aws:",required"`
}

type describeAccountOutput struct {
	Account account `json:"Account"`
}

type listAccountsInput struct {
	NextToken  *string `json:"NextToken"`
	MaxResults *int    `json:"MaxResults"`
}

type listAccountsOutput struct {
	Accounts  []account `json:"Accounts"`
	NextToken *string   `json:"NextToken,omitempty"`
}
