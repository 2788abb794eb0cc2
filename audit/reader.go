package audit

import (
	"bufio"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Filter selects events; empty fields match everything.
type Filter struct {
	// Principal matches the caller's ARN, user name, access key id, principal id or account
	// id exactly, or the ARN as a pattern when it contains * (e.g. "*:assumed-role/deploy/*").
	Principal string
	// Action matches the event name or the IAM action, ignoring case: "BatchGetImage" or
	// "ecr:BatchGetImage"; a trailing * matches a prefix ("ecr:*", "Put*").
	Action string
	// Repository matches the repository as NAME, ACCOUNT/NAME or its ARN.
	Repository string
	// Decision is Allow or Deny (any case).
	Decision string
	// Since and Until bound the event time (Since inclusive, Until exclusive).
	Since, Until time.Time
}

// Match reports whether e passes the filter.
func (f *Filter) Match(e *Event) bool {
	if !f.Since.IsZero() && e.EventTime.Before(f.Since) {
		return false
	}
	if !f.Until.IsZero() && !e.EventTime.Before(f.Until) {
		return false
	}
	if f.Decision != "" && !strings.EqualFold(f.Decision, e.AdditionalEventData.Decision) {
		return false
	}
	if f.Principal != "" && !matchPrincipal(f.Principal, &e.UserIdentity) {
		return false
	}
	if f.Action != "" && !matchAction(f.Action, e) {
		return false
	}
	if f.Repository != "" && !matchRepository(f.Repository, e) {
		return false
	}
	return true
}

func matchPrincipal(p string, id *UserIdentity) bool {
	if strings.Contains(p, "*") {
		return wildcard(p, id.ARN)
	}
	return p == id.ARN || p == id.UserName || p == id.AccessKeyID || p == id.PrincipalID || p == id.AccountID ||
		(p == "anonymous" && id.Type == "Anonymous")
}

func matchAction(a string, e *Event) bool {
	a = strings.ToLower(a)
	names := []string{strings.ToLower(e.EventName), strings.ToLower(e.AdditionalEventData.Action)}
	if service, _, ok := strings.Cut(e.EventSource, "."); ok {
		names = append(names, service+":"+strings.ToLower(e.EventName))
	}
	for _, n := range names {
		if n != "" && wildcard(a, n) {
			return true
		}
	}
	return false
}

func matchRepository(r string, e *Event) bool {
	if repo := e.AdditionalEventData.Repository; repo != "" && (r == repo || r == e.RecipientAccountID+"/"+repo) {
		return true
	}
	for _, res := range e.Resources {
		name, ok := strings.CutPrefix(res.ARN[strings.LastIndex(res.ARN, ":")+1:], "repository/")
		if !ok {
			continue
		}
		if r == res.ARN || r == name || r == res.AccountID+"/"+name {
			return true
		}
	}
	return false
}

// wildcard matches s against a pattern where * stands for any run of characters.
func wildcard(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(s, mid)
		if i < 0 {
			return false
		}
		s = s[i+len(mid):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}

// ErrStop ends Read early without an error.
var ErrStop = errors.New("audit: stop reading")

// Read calls fn for every event in dir that f matches, oldest file first, in the order the
// events were written. A line that does not parse (the torn end of a file cut by a crash)
// is skipped. fn may return ErrStop to end the walk.
func Read(dir string, f Filter, fn func(*Event) error) error {
	files, err := listFiles(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	sinceDay, untilDay := "", ""
	if !f.Since.IsZero() {
		sinceDay = f.Since.UTC().Format("20060102")
	}
	if !f.Until.IsZero() {
		untilDay = f.Until.UTC().Format("20060102")
	}
	for _, tf := range files {
		if (sinceDay != "" && tf.day < sinceDay) || (untilDay != "" && tf.day > untilDay) {
			continue
		}
		if err := readFile(filepath.Join(dir, tf.name), &f, fn); err != nil {
			if errors.Is(err, ErrStop) {
				return nil
			}
			return err
		}
	}
	return nil
}

func readFile(path string, f *Filter, fn func(*Event) error) error {
	file, err := os.Open(path)
	if err != nil {
		return err
	}
	defer file.Close()
	sc := bufio.NewScanner(file)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var e Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			continue
		}
		if f.Match(&e) {
			if err := fn(&e); err != nil {
				return err
			}
		}
	}
	return sc.Err()
}
