// Command coffer is a private container registry with Amazon ECR's access control.
// It holds flags, configuration and wiring only; the work happens in the packages it starts.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

// run executes the command line args and returns the process exit code.
func run(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	root := newRootCommand(stdout, stderr, getenv)
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		fmt.Fprintln(stderr, "coffer:", err)
		return 1
	}
	return 0
}

// newRootCommand builds the command tree: serve, gc, audit, version.
func newRootCommand(stdout, stderr io.Writer, getenv func(string) string) *cobra.Command {
	root := &cobra.Command{
		Use:   "coffer",
		Short: "A self-hosted private container registry with Amazon ECR's access control",
		Long: `Coffer is a private OCI container registry in one binary.

Start it with 'coffer serve'. Every setting can be given three ways, named alike:
  a flag            --tls-cert FILE
  an environment    COFFER_TLS_CERT=FILE
  a config key      tls-cert: FILE      (in the YAML file given by --config or COFFER_CONFIG)
When a setting is given more than once, the flag wins over the environment variable,
which wins over the config file, which wins over the built-in default.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(newServeCommand(stdout, stderr, getenv), newGCCommand(stdout, stderr, getenv), newAuditCommand(stdout, getenv), newVersionCommand(stdout))
	root.CompletionOptions.DisableDefaultCmd = true
	return root
}
