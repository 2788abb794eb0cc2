package iamsql

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/coffer-registry/coffer/iam"
)

type mfaRow struct {
	serial, account, name, path, sealed, userID string
	enabled, lastStep, created                  int64
}

const mfaColumns = `serial, account_id, name, path, seed_sealed, user_id, enabled_at, last_step, created_at`

func scanMFA(row scanner) (*mfaRow, error) {
	var m mfaRow
	err := row.Scan(&m.serial, &m.account, &m.name, &m.path, &m.sealed, &m.userID, &m.enabled, &m.lastStep, &m.created)
	return &m, err
}

func loadMFA(ctx context.Context, q querier, account, serial string) (*mfaRow, error) {
	m, err := scanMFA(q.QueryRowContext(ctx, `SELECT `+mfaColumns+` FROM iam_mfa_devices WHERE serial = $1 AND account_id = $2`, serial, account))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, iam.ErrNoSuchMFADevice(serial)
	}
	return m, err
}

func (m *mfaRow) device(userName string) iam.MFADevice {
	return iam.MFADevice{AccountID: m.account, SerialNumber: m.serial, Name: m.name, Path: m.path, UserName: userName,
		EnabledAt: fromMS(m.enabled), CreatedAt: fromMS(m.created)}
}

// CreateVirtualMFADevice creates an unassigned virtual MFA device and returns its seed, once.
func (s *Service) CreateVirtualMFADevice(ctx context.Context, account, name, path string, tags []iam.Tag) (*iam.NewVirtualMFADevice, error) {
	path = iam.DefaultPath(path)
	var v iam.Validation
	v.Name("virtualMFADeviceName", name, iam.MaxVirtualMFANameLength)
	v.Path("path", path)
	v.Tags("tags", tags)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := iam.CheckTagKeysUnique(tags); err != nil {
		return nil, err
	}
	seed := iam.NewTOTPSeed()
	m := &mfaRow{serial: iam.MFAARN(account, path, name), account: account, name: name, path: path, created: s.nowMS()}
	m.sealed = s.seal(string(seed), m.serial)
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := requireAccount(ctx, tx, account); err != nil {
			return err
		}
		n, err := count(ctx, tx, `SELECT COUNT(*) FROM iam_mfa_devices WHERE serial = $1`, m.serial)
		if err != nil {
			return err
		}
		if n > 0 {
			return iam.AlreadyExists("MFADevice entity at the same path and name already exists.")
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO iam_mfa_devices (`+mfaColumns+`) VALUES ($1, $2, $3, $4, $5, '', 0, 0, $6)`,
			m.serial, m.account, m.name, m.path, m.sealed, m.created); err != nil {
			return err
		}
		return mergeTags(ctx, tx, m.serial, tags)
	})
	if err != nil {
		return nil, err
	}
	d := m.device("")
	d.Tags = sortedTags(tags)
	return &iam.NewVirtualMFADevice{MFADevice: d, Base32Seed: iam.Base32Seed(seed), OTPAuthURI: iam.OTPAuthURI(seed, name+"@"+account, "Coffer")}, nil
}

// EnableMFADevice assigns a device to a user after checking two consecutive codes from it.
func (s *Service) EnableMFADevice(ctx context.Context, account, userName, serial, code1, code2 string) error {
	var v iam.Validation
	v.Length("serialNumber", serial, 9, 256)
	v.Length("authenticationCode1", code1, 6, 6)
	v.Length("authenticationCode2", code2, 6, 6)
	if err := v.Err(); err != nil {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		u, err := loadEntity(ctx, tx, iam.EntityRef{Account: account, Kind: iam.KindUser, Name: userName})
		if err != nil {
			return err
		}
		m, err := loadMFA(ctx, tx, account, serial)
		if err != nil {
			return err
		}
		if m.userID != "" {
			return iam.AlreadyExists("MFA Device is already in use.")
		}
		seed, err := s.unseal(m.sealed, m.serial)
		if err != nil {
			return err
		}
		step, ok := iam.MatchConsecutiveTOTP(seed, code1, code2, s.now())
		if !ok {
			return iam.ErrInvalidAuthenticationCode()
		}
		_, err = tx.ExecContext(ctx, `UPDATE iam_mfa_devices SET user_id = $1, enabled_at = $2, last_step = $3 WHERE serial = $4`,
			u.id, s.nowMS(), step, m.serial)
		return err
	})
}

// DeactivateMFADevice unassigns a device from the user it is enabled for.
func (s *Service) DeactivateMFADevice(ctx context.Context, account, userName, serial string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		u, err := loadEntity(ctx, tx, iam.EntityRef{Account: account, Kind: iam.KindUser, Name: userName})
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE iam_mfa_devices SET user_id = '', enabled_at = 0 WHERE serial = $1 AND account_id = $2 AND user_id = $3`,
			serial, account, u.id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return iam.NoSuchEntity("MFA Device with serial number %s does not exist for user %s.", serial, u.name)
		}
		return nil
	})
}

// DeleteVirtualMFADevice deletes a device that is not enabled for anyone.
func (s *Service) DeleteVirtualMFADevice(ctx context.Context, account, serial string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		m, err := loadMFA(ctx, tx, account, serial)
		if err != nil {
			return err
		}
		if m.userID != "" {
			return iam.DeleteConflict("MFA device is still in use.")
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM iam_tags WHERE owner_id = $1`, serial); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM iam_mfa_devices WHERE serial = $1`, serial)
		return err
	})
}

// ListMFADevices lists the devices enabled for a user.
func (s *Service) ListMFADevices(ctx context.Context, account, userName string) ([]iam.MFADevice, error) {
	var out []iam.MFADevice
	err := s.read(ctx, func(tx *sql.Tx) error {
		u, err := loadEntity(ctx, tx, iam.EntityRef{Account: account, Kind: iam.KindUser, Name: userName})
		if err != nil {
			return err
		}
		out, err = queryAll(ctx, tx, func(row scanner) (iam.MFADevice, error) {
			m, err := scanMFA(row)
			return m.device(u.name), err
		}, `SELECT `+mfaColumns+` FROM iam_mfa_devices WHERE account_id = $1 AND user_id = $2 ORDER BY serial`, account, u.id)
		return err
	})
	return out, err
}

// Assignment filters for ListVirtualMFADevices.
const (
	AssignmentAny        = "Any"
	AssignmentAssigned   = "Assigned"
	AssignmentUnassigned = "Unassigned"
)

// ListVirtualMFADevices lists an account's virtual devices, filtered by assignment status.
func (s *Service) ListVirtualMFADevices(ctx context.Context, account, assignment string) ([]iam.MFADevice, error) {
	if assignment == "" {
		assignment = AssignmentAny
	}
	var v iam.Validation
	v.Enum("assignmentStatus", assignment, AssignmentAssigned, AssignmentUnassigned, AssignmentAny)
	if err := v.Err(); err != nil {
		return nil, err
	}
	var out []iam.MFADevice
	err := s.read(ctx, func(tx *sql.Tx) error {
		ms, err := queryAll(ctx, tx, scanMFA, `SELECT `+mfaColumns+` FROM iam_mfa_devices WHERE account_id = $1 ORDER BY serial`, account)
		if err != nil {
			return err
		}
		for _, m := range ms {
			assigned := m.userID != ""
			if (assignment == AssignmentAssigned && !assigned) || (assignment == AssignmentUnassigned && assigned) {
				continue
			}
			d := m.device(canonicalName(ctx, tx, m.userID, ""))
			if d.Tags, err = loadTags(ctx, tx, m.serial); err != nil {
				return err
			}
			out = append(out, d)
		}
		return nil
	})
	return out, err
}

// VerifyMFACode checks a TOTP code from an enabled device (±1 step of 30 s; a code, or an earlier one,
// is never accepted twice) and returns the device with the time of the check. Used by STS when a
// caller passes SerialNumber and TokenCode. The check does not move the generation.
func (s *Service) VerifyMFACode(ctx context.Context, account, serial, code string) (*iam.MFADevice, time.Time, error) {
	var dev iam.MFADevice
	now := s.now()
	err := inTx(ctx, s.writer, func(tx *sql.Tx) error {
		m, err := loadMFA(ctx, tx, account, serial)
		if err != nil {
			return err
		}
		if m.userID == "" {
			return iam.ErrInvalidAuthenticationCode()
		}
		seed, err := s.unseal(m.sealed, m.serial)
		if err != nil {
			return err
		}
		step, ok := iam.MatchTOTP(seed, code, now, m.lastStep)
		if !ok {
			return iam.ErrInvalidAuthenticationCode()
		}
		res, err := tx.ExecContext(ctx, `UPDATE iam_mfa_devices SET last_step = $1 WHERE serial = $2 AND last_step < $1`, step, m.serial)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return iam.ErrInvalidAuthenticationCode()
		}
		dev = m.device(canonicalName(ctx, tx, m.userID, ""))
		return nil
	})
	if err != nil {
		return nil, time.Time{}, err
	}
	return &dev, now.UTC(), nil
}

// TagMFADevice, UntagMFADevice and ListMFADeviceTags manage a virtual MFA device's tags.
func (s *Service) TagMFADevice(ctx context.Context, account, serial string, tags []iam.Tag) error {
	if err := checkTagInput(tags); err != nil {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		if _, err := loadMFA(ctx, tx, account, serial); err != nil {
			return err
		}
		return mergeTags(ctx, tx, serial, tags)
	})
}

func (s *Service) UntagMFADevice(ctx context.Context, account, serial string, keys []string) error {
	if err := checkTagKeys(keys); err != nil {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		if _, err := loadMFA(ctx, tx, account, serial); err != nil {
			return err
		}
		return removeTags(ctx, tx, serial, keys)
	})
}

func (s *Service) ListMFADeviceTags(ctx context.Context, account, serial string) ([]iam.Tag, error) {
	var out []iam.Tag
	err := s.read(ctx, func(tx *sql.Tx) error {
		if _, err := loadMFA(ctx, tx, account, serial); err != nil {
			return err
		}
		var err error
		out, err = loadTags(ctx, tx, serial)
		return err
	})
	return out, err
}
