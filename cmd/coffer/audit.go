package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/coffer-registry/coffer/audit"
	"github.com/coffer-registry/coffer/server"
)

func newAuditCommand(stdout io.Writer, getenv func(string) string) *cobra.Command {
	var (
		o            Options
		f            audit.Filter
		since, until string
		output       string
		last         int
	)
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Read the audit trail: every API and registry request, allowed or denied",
		Long: `Print the events of the audit trail kept under DATA/audit/, oldest first.

Each event is one AWS API or registry request in CloudTrail's record format (userIdentity,
eventSource, eventName, sourceIPAddress, errorCode, resources, ...); Coffer's decision is in
additionalEventData.decision. Filters combine (all must match):

  --principal   an ARN, user name, access key id or account id; * in an ARN is a wildcard
                ("*:assumed-role/deploy/*"); "anonymous" for requests without credentials
  --action      "ecr:BatchGetImage", "BatchGetImage" or a prefix such as "ecr:Put*"
  --repository  NAME, ACCOUNT/NAME or the repository ARN
  --decision    allow or deny
  --since, --until  RFC 3339 times, or an age such as 90m, 12h or 7d

It reads the files only; 'coffer serve' may keep running.`,
		Example: `  coffer audit --data ./coffer-data --decision deny --since 24h
  coffer audit --principal arn:aws:iam::111122223333:user/alice --repository team/app --output table`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := resolveOptions(cmd, &o, getenv); err != nil {
				return err
			}
			now := time.Now()
			var err error
			if f.Since, err = parseWhen(since, now); err != nil {
				return fmt.Errorf("--since: %w", err)
			}
			if f.Until, err = parseWhen(until, now); err != nil {
				return fmt.Errorf("--until: %w", err)
			}
			switch strings.ToLower(f.Decision) {
			case "", "allow", "deny":
			default:
				return fmt.Errorf("--decision must be allow or deny, not %q", f.Decision)
			}
			if output != "json" && output != "table" {
				return fmt.Errorf("--output must be json or table, not %q", output)
			}
			dir := server.Layout(o.Data).Audit()
			if _, err := os.Stat(dir); err != nil {
				return fmt.Errorf("audit trail: %w", err)
			}
			var events []*audit.Event
			err = audit.Read(dir, f, func(e *audit.Event) error {
				events = append(events, e)
				if last > 0 && len(events) > last {
					events = events[1:]
				}
				return nil
			})
			if err != nil {
				return err
			}
			return printEvents(stdout, events, output)
		},
	}
	optionFlags(cmd, &o, "data")
	fl := cmd.Flags()
	fl.StringVar(&f.Principal, "principal", "", "only events of this caller (ARN, user name, access key id, account id)")
	fl.StringVar(&f.Action, "action", "", `only events of this action ("ecr:PutImage", "ecr:Put*")`)
	fl.StringVar(&f.Repository, "repository", "", "only events on this repository (NAME, ACCOUNT/NAME or ARN)")
	fl.StringVar(&f.Decision, "decision", "", "only allowed (allow) or denied (deny) requests")
	fl.StringVar(&since, "since", "", "only events at or after this time (RFC 3339, or an age: 90m, 12h, 7d)")
	fl.StringVar(&until, "until", "", "only events before this time (RFC 3339, or an age)")
	fl.StringVarP(&output, "output", "o", "json", "json (one CloudTrail event per line) or table")
	fl.IntVar(&last, "last", 0, "print only the last N matching events (0: all)")
	return cmd
}

// parseWhen reads an RFC 3339 time or an age before now ("90m", "12h", "7d").
func parseWhen(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 {
			return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time nor an age", s)
		}
		return now.Add(-time.Duration(n) * 24 * time.Hour), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time nor an age", s)
	}
	return now.Add(-d), nil
}

func printEvents(w io.Writer, events []*audit.Event, output string) error {
	if output == "json" {
		enc := json.NewEncoder(w)
		for _, e := range events {
			if err := enc.Encode(e); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tDECISION\tPRINCIPAL\tACTION\tREPOSITORY\tSTATUS\tERROR\tSOURCE IP")
	for _, e := range events {
		who := e.UserIdentity.ARN
		if who == "" {
			who = strings.ToLower(e.UserIdentity.Type)
		}
		action := e.AdditionalEventData.Action
		if action == "" {
			action = e.EventName
		}
		repo := "-"
		if e.AdditionalEventData.Repository != "" {
			repo = e.RecipientAccountID + "/" + e.AdditionalEventData.Repository
		}
		errCode := e.ErrorCode
		if errCode == "" {
			errCode = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", e.EventTime.Format(time.RFC3339), e.AdditionalEventData.Decision,
			who, action, repo, e.AdditionalEventData.HTTPStatus, errCode, e.SourceIPAddress)
	}
	return tw.Flush()
}
