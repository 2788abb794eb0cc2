package iamsql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/coffer-registry/coffer/iam"
)

// OrganizationAccountAccessRole is the role every created member account gets, trusted by the management account.
const OrganizationAccountAccessRole = "OrganizationAccountAccessRole"

var emailPattern = regexp.MustCompile(`^[^\s@]+@[^\s@]+$`)

// BootstrapInput names the management account made on first start.
type BootstrapInput struct {
	AccountName string // default "management"
	Email       string // default "root@coffer.local"
}

// BootstrapResult tells what first start found or made. RootKey is set only when it was just created.
type BootstrapResult struct {
	Organization iam.Organization
	Account      iam.Account
	RootKey      *iam.NewAccessKey
	Created      bool
}

// Bootstrap creates, on an empty store, the organization, its management account and the root
// user's access key; on later starts it returns what exists and creates nothing.
func (s *Service) Bootstrap(ctx context.Context, in BootstrapInput) (*BootstrapResult, error) {
	if in.AccountName == "" {
		in.AccountName = "management"
	}
	if in.Email == "" {
		in.Email = "root@coffer.local"
	}
	if org, err := s.DescribeOrganization(ctx); err == nil {
		acct, err := s.GetAccount(ctx, org.ManagementAccountID)
		if err != nil {
			return nil, err
		}
		return &BootstrapResult{Organization: *org, Account: *acct}, nil
	} else if iam.ErrorCode(err) != iam.CodeOrganizationsNotInUse {
		return nil, err
	}
	if err := checkAccountInput(in.AccountName, in.Email); err != nil {
		return nil, err
	}
	var res *BootstrapResult
	err := s.write(ctx, func(tx *sql.Tx) error {
		n, err := count(ctx, tx, `SELECT COUNT(*) FROM iam_organization`)
		if err != nil {
			return err
		}
		if n > 0 { // another process bootstrapped between our read and this transaction
			res = nil
			return nil
		}
		now := s.nowMS()
		acct := iam.NewAccountID()
		orgID := iam.NewOrganizationID()
		if _, err := tx.ExecContext(ctx, `INSERT INTO iam_organization (id, management_account_id, root_id, feature_set, created_at)
			VALUES ($1, $2, $3, 'ALL', $4)`, orgID, acct, iam.NewRootID(), now); err != nil {
			return err
		}
		if err := insertAccount(ctx, tx, acct, in.AccountName, in.Email, orgID, true, now); err != nil {
			return err
		}
		key, err := s.insertAccessKey(ctx, tx, acct, "", "")
		if err != nil {
			return err
		}
		res = &BootstrapResult{RootKey: key, Created: true}
		return nil
	})
	if err != nil {
		return nil, err
	}
	org, err := s.DescribeOrganization(ctx)
	if err != nil {
		return nil, err
	}
	acct, err := s.GetAccount(ctx, org.ManagementAccountID)
	if err != nil {
		return nil, err
	}
	if res == nil {
		res = &BootstrapResult{}
	}
	res.Organization, res.Account = *org, *acct
	return res, nil
}

func checkAccountInput(name, email string) error {
	var v iam.Validation
	v.Length("AccountName", name, 1, 50)
	if v.Length("Email", email, 6, 64) && !emailPattern.MatchString(email) {
		return &iam.Error{Code: iam.CodeOrganizationsInvalidInput, Message: "You provided a value that does not match the required pattern."}
	}
	if err := v.Err(); err != nil {
		return &iam.Error{Code: iam.CodeOrganizationsInvalidInput, Message: err.(*iam.Error).Message}
	}
	return nil
}

func insertAccount(ctx context.Context, tx *sql.Tx, id, name, email, orgID string, management bool, now int64) error {
	n, err := count(ctx, tx, `SELECT COUNT(*) FROM iam_accounts WHERE email_lower = $1`, strings.ToLower(email))
	if err != nil {
		return err
	}
	if n > 0 {
		return &iam.Error{Code: iam.CodeEmailAlreadyExists, Message: fmt.Sprintf("An account with email %s already exists.", email)}
	}
	method := "CREATED"
	if management {
		method = "INVITED"
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO iam_accounts (id, name, email, email_lower, org_id, management, status, joined_method, joined_at)
		VALUES ($1, $2, $3, $4, $5, $6, 'ACTIVE', $7, $8)`, id, name, email, strings.ToLower(email), orgID, management, method, now)
	return err
}

// DescribeOrganization returns the organization, or AWSOrganizationsNotInUseException before bootstrap.
func (s *Service) DescribeOrganization(ctx context.Context) (*iam.Organization, error) {
	var o iam.Organization
	err := s.reader.QueryRowContext(ctx, `SELECT o.id, o.management_account_id, o.root_id, o.feature_set, a.email
		FROM iam_organization o JOIN iam_accounts a ON a.id = o.management_account_id`).
		Scan(&o.ID, &o.ManagementAccountID, &o.RootID, &o.FeatureSet, &o.ManagementAccountEmail)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, &iam.Error{Code: iam.CodeOrganizationsNotInUse, Message: "Your account is not a member of an organization."}
	}
	if err != nil {
		return nil, err
	}
	o.ARN = iam.OrganizationARN(o.ManagementAccountID, o.ID)
	o.ManagementAccountARN = iam.OrganizationAccountARN(o.ManagementAccountID, o.ID, o.ManagementAccountID)
	o.RootARN = iam.OrganizationRootARN(o.ManagementAccountID, o.ID, o.RootID)
	return &o, nil
}

const accountColumns = `a.id, a.name, a.email, a.org_id, a.management, a.status, a.joined_method, a.joined_at, o.management_account_id`

func scanAccount(row scanner) (*iam.Account, error) {
	var a iam.Account
	var joined int64
	var mgmt string
	if err := row.Scan(&a.ID, &a.Name, &a.Email, &a.OrganizationID, &a.Management, &a.Status, &a.JoinedMethod, &joined, &mgmt); err != nil {
		return nil, err
	}
	a.JoinedAt = fromMS(joined)
	a.ARN = iam.OrganizationAccountARN(mgmt, a.OrganizationID, a.ID)
	return &a, nil
}

// GetAccount returns one account.
func (s *Service) GetAccount(ctx context.Context, id string) (*iam.Account, error) {
	a, err := scanAccount(s.reader.QueryRowContext(ctx, `SELECT `+accountColumns+`
		FROM iam_accounts a JOIN iam_organization o ON o.id = a.org_id WHERE a.id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, iam.ErrNoSuchAccount(id)
	}
	return a, err
}

// ListAccounts lists every account of the organization, management account first.
func (s *Service) ListAccounts(ctx context.Context) ([]iam.Account, error) {
	return queryAll(ctx, s.reader, func(row scanner) (iam.Account, error) {
		a, err := scanAccount(row)
		if err != nil {
			return iam.Account{}, err
		}
		return *a, nil
	}, `SELECT `+accountColumns+`
		FROM iam_accounts a JOIN iam_organization o ON o.id = a.org_id ORDER BY a.management DESC, a.joined_at, a.id`)
}

// CreateAccountInput describes a new member account.
type CreateAccountInput struct {
	Name     string
	Email    string
	RoleName string // default OrganizationAccountAccessRole
}

// CreateAccount adds a member account with a role the management account can assume, which has
// AdministratorAccess attached, as Organizations does. The account exists at once (status SUCCEEDED).
func (s *Service) CreateAccount(ctx context.Context, in CreateAccountInput) (*iam.Account, error) {
	if in.RoleName == "" {
		in.RoleName = OrganizationAccountAccessRole
	}
	if err := checkAccountInput(in.Name, in.Email); err != nil {
		return nil, err
	}
	var v iam.Validation
	v.Name("RoleName", in.RoleName, 64)
	if err := v.Err(); err != nil {
		return nil, &iam.Error{Code: iam.CodeOrganizationsInvalidInput, Message: err.(*iam.Error).Message}
	}
	org, err := s.DescribeOrganization(ctx)
	if err != nil {
		return nil, err
	}
	id := iam.NewAccountID()
	err = s.write(ctx, func(tx *sql.Tx) error {
		if err := insertAccount(ctx, tx, id, in.Name, in.Email, org.ID, false, s.nowMS()); err != nil {
			return err
		}
		trust := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::%s:root"},"Action":"sts:AssumeRole"}]}`,
			org.ManagementAccountID)
		role, err := s.createRoleTx(ctx, tx, CreateRoleInput{Account: id, Name: in.RoleName, AssumeRolePolicy: trust})
		if err != nil {
			return err
		}
		e, err := loadEntity(ctx, tx, iam.EntityRef{Account: id, Kind: iam.KindRole, Name: role.Name})
		if err != nil {
			return err
		}
		return s.attachTx(ctx, tx, e, iam.AdministratorAccessARN)
	})
	if err != nil {
		return nil, err
	}
	return s.GetAccount(ctx, id)
}
