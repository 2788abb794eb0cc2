package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/coffer-registry/coffer/audit"
	"github.com/coffer-registry/coffer/server"
)

func TestAuditCommand(t *testing.T) {
	dir := t.TempDir()
	w, err := audit.Open(audit.Config{Dir: server.Layout(dir).Audit()})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	alice := "arn:aws:iam::111122223333:user/alice"
	for i, ev := range []struct {
		at       time.Time
		who      string
		action   string
		repo     string
		decision string
	}{
		{now.Add(-48 * time.Hour), alice, "ecr:BatchGetImage", "team/app", audit.Allow},
		{now.Add(-time.Hour), alice, "ecr:PutImage", "team/app", audit.Deny},
		{now.Add(-time.Minute), "arn:aws:iam::111122223333:user/bob", "ecr:BatchGetImage", "team/other", audit.Allow},
	} {
		name, _ := strings.CutPrefix(ev.action, "ecr:")
		w.Record(&audit.Event{EventTime: ev.at, EventSource: "ecr.amazonaws.com", EventName: name,
			RequestID:          "r" + string(rune('1'+i)),
			UserIdentity:       audit.UserIdentity{Type: "IAMUser", ARN: ev.who, AccountID: "111122223333"},
			RecipientAccountID: "111122223333",
			AdditionalEventData: audit.AdditionalData{Decision: ev.decision, Action: ev.action, Repository: ev.repo,
				Protocol: "registry", HTTPStatus: map[string]int{audit.Allow: 200, audit.Deny: 403}[ev.decision]}})
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	runAudit := func(args ...string) (string, string, int) {
		var out, errb bytes.Buffer
		code := run(append([]string{"audit", "--data", dir}, args...), &out, &errb, func(string) string { return "" })
		return out.String(), errb.String(), code
	}
	ids := func(out string) string {
		var got []string
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if line == "" {
				continue
			}
			var e audit.Event
			if err := json.Unmarshal([]byte(line), &e); err != nil {
				t.Fatalf("not a JSON event line: %q", line)
			}
			got = append(got, e.RequestID)
		}
		return strings.Join(got, ",")
	}
	cases := []struct {
		args []string
		want string
	}{
		{nil, "r1,r2,r3"},
		{[]string{"--principal", alice}, "r1,r2"},
		{[]string{"--decision", "deny"}, "r2"},
		{[]string{"--action", "ecr:BatchGetImage"}, "r1,r3"},
		{[]string{"--repository", "111122223333/team/app"}, "r1,r2"},
		{[]string{"--since", "2h"}, "r2,r3"},
		{[]string{"--since", now.Add(-90 * time.Minute).Format(time.RFC3339), "--until", "30m"}, "r2"},
		{[]string{"--last", "1"}, "r3"},
	}
	for _, tc := range cases {
		out, errOut, code := runAudit(tc.args...)
		if code != 0 {
			t.Fatalf("coffer audit %v: exit %d: %s", tc.args, code, errOut)
		}
		if got := ids(out); got != tc.want {
			t.Errorf("coffer audit %v: %s, want %s", tc.args, got, tc.want)
		}
	}
	out, _, code := runAudit("--decision", "deny", "--output", "table")
	if code != 0 || !strings.Contains(out, "DECISION") || !strings.Contains(out, "Deny") ||
		!strings.Contains(out, alice) || !strings.Contains(out, "ecr:PutImage") || !strings.Contains(out, "111122223333/team/app") {
		t.Errorf("table output:\n%s", out)
	}
	for _, bad := range [][]string{{"--decision", "maybe"}, {"--since", "yesterday"}, {"--output", "xml"}} {
		if _, errOut, code := runAudit(bad...); code == 0 || errOut == "" {
			t.Errorf("coffer audit %v was accepted", bad)
		}
	}
	var out2, errb bytes.Buffer
	if code := run([]string{"audit", "--data", t.TempDir() + "/missing"}, &out2, &errb, func(string) string { return "" }); code == 0 {
		t.Error("a data directory without a trail was accepted")
	}
}
