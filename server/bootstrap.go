package server

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/coffer-registry/coffer/iam"
)

// credentialsProfile is the profile of DATA/credentials that holds the root access key.
const credentialsProfile = "default"

// saveRootKey writes the root access key that the bootstrap just created to l.Credentials():
// it is the only time its secret is known outside the encrypted store.
func (a *awsAPI) saveRootKey(l Layout) error {
	if !a.Boot.Created || a.Boot.RootKey == nil {
		return nil
	}
	if err := writeCredentials(l.Credentials(), a.Boot.Account.ID, a.Boot.RootKey); err != nil {
		return fmt.Errorf("server: first start created the root access key %s of account %s but could not save it: %w; "+
			"its secret cannot be shown again: remove %s and %s and start again",
			a.Boot.RootKey.ID, a.Boot.Account.ID, err, l.IAMDB(), l.IAMKey())
	}
	return nil
}

// writeCredentials writes key to path in the AWS shared-credentials format, profile default,
// mode 0600. The file appears whole or not at all: a temporary file beside it, synced, then
// renamed over it.
func writeCredentials(path, account string, key *iam.NewAccessKey) error {
	content := fmt.Sprintf("# Coffer: root user of the management account %s, written on first start\n"+
		"[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n",
		account, credentialsProfile, key.ID, key.Secret)
	tmp, err := os.CreateTemp(filepath.Dir(path), ".credentials-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.WriteString(content); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// announce prints to w the lines that point the aws CLI and the SDKs at this server:
//
//	export AWS_SHARED_CREDENTIALS_FILE=/abs/DATA/credentials
//	export AWS_ENDPOINT_URL=http://127.0.0.1:5000
//	export AWS_REGION=us-east-1
//	export AWS_DEFAULT_REGION=us-east-1
//
// The fourth line is for the clients built on botocore (aws CLI v1, boto3), which read the
// region from AWS_DEFAULT_REGION only; the aws CLI v2 and the other SDKs read AWS_REGION.
// When the credentials file is gone (its secret cannot be shown again) it says so, on w and
// in the log, and prints the other two lines. A nil w prints nothing (the log still warns).
func (a *awsAPI) announce(w io.Writer, log *slog.Logger, l Layout, url, region string) error {
	if w == nil {
		w = io.Discard
	}
	path, err := filepath.Abs(l.Credentials())
	if err != nil {
		return fmt.Errorf("server: credentials file: %w", err)
	}
	account := a.Boot.Account.ID
	var b strings.Builder
	_, statErr := os.Stat(path)
	switch {
	case statErr == nil && a.Boot.Created:
		fmt.Fprintf(&b, "# Coffer first start: created the management account %s; its root user's access key is in %s\n", account, path)
		fmt.Fprintf(&b, "export AWS_SHARED_CREDENTIALS_FILE=%s\n", shellQuote(path))
	case statErr == nil:
		fmt.Fprintf(&b, "# Coffer: management account %s; its root user's access key is in %s\n", account, path)
		fmt.Fprintf(&b, "export AWS_SHARED_CREDENTIALS_FILE=%s\n", shellQuote(path))
	case errors.Is(statErr, fs.ErrNotExist):
		log.Warn("the credentials file written on first start is missing; the root access key's secret cannot be shown again",
			"path", path, "account", account)
		fmt.Fprintf(&b, "# Coffer: %s is missing. It held the root access key of the management account %s, written\n"+
			"# on first start; the secret cannot be shown again. Sign with another access key of this Coffer\n"+
			"# (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY), or start over with an empty data directory.\n", path, account)
	default:
		return fmt.Errorf("server: credentials file: %w", statErr)
	}
	fmt.Fprintf(&b, "export AWS_ENDPOINT_URL=%s\n", shellQuote(url))
	fmt.Fprintf(&b, "export AWS_REGION=%s\n", shellQuote(region))
	fmt.Fprintf(&b, "export AWS_DEFAULT_REGION=%s\n", shellQuote(region))
	_, err = io.WriteString(w, b.String())
	return err
}

// shellQuote returns s as one POSIX shell word: unchanged when it holds only characters
// the shell does not interpret, else in single quotes.
func shellQuote(s string) string {
	safe := s != ""
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-:@%+=,", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
