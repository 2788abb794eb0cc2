package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/coffer-registry/coffer/gc"
	"github.com/coffer-registry/coffer/server"
)

func newGCCommand(stdout, stderr io.Writer, getenv func(string) string) *cobra.Command {
	var o Options
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "gc",
		Short: "Collect garbage once: delete unreferenced manifests and blobs",
		Long: `Run one garbage-collection pass over a data directory and print what it removed.

With --dry-run nothing is deleted; the report lists what a pass would remove.
It is safe while 'coffer serve' runs on the same data directory: an item is deleted only
when the metadata store confirms, in one transaction, that nothing references it, and only
after its grace period (--gc-grace) has passed.

Each flag but --dry-run can also be set with its COFFER_* environment variable (shown below)
or with the key of the same name in the --config YAML file: flag > environment > config file
> default.`,
		Example: `  coffer gc --dry-run --data ./coffer-data`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := resolveOptions(cmd, &o, getenv); err != nil {
				return err
			}
			if _, err := os.Stat(o.Data); err != nil {
				return fmt.Errorf("data directory: %w", err)
			}
			data, err := server.OpenData(o.Data, o.GCGrace, server.Durability(o.Durability), false)
			if err != nil {
				return err
			}
			defer data.Close()
			collector := data.Collector(o.GCGrace, 0, newLogger(stderr, o))
			var report gc.Report
			if dryRun {
				report, err = collector.DryRun(cmd.Context())
			} else {
				report, err = collector.Once(cmd.Context())
			}
			if err != nil {
				return err
			}
			fmt.Fprint(stdout, report)
			return nil
		},
	}
	optionFlags(cmd, &o, "data", "gc-grace", "durability", "log-level", "log-format")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "report what would be deleted, delete nothing")
	return cmd
}
