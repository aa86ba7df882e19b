package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/vbauerster/mpb/v8"

	"github.com/vendorimg/vendorimg"
	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/platform"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// usageError marks an error as the user's invocation being wrong (exit 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// platformOption is the platform a --platform flag names, nil when the
// flag is empty (the engine's own), or a usage error.
func platformOption(flag string) (*platform.Platform, error) {
	if flag == "" {
		return nil, nil
	}
	p, err := platform.Parse(flag)
	if err != nil {
		return nil, usageError{err}
	}
	return &p, nil
}

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// quietError is an error already reported on stdout or stderr (a failed
// verification): Execute sets the exit code without printing it again.
type quietError struct{ err error }

func (e quietError) Error() string { return e.err.Error() }
func (e quietError) Unwrap() error { return e.err }

// globals are the flags every command takes.
type globals struct {
	dir        string
	configPath string
	json       bool
	quiet      bool
	verbose    bool

	stdout, stderr io.Writer
	logger         *slog.Logger
	// console, if set, is where progress bars are drawn, as if stderr
	// were that terminal (tests).
	console mpb.ConsoleWriter
	// printed: the command printed its --json document (see finish).
	printed bool
}

// Execute runs vendorimg with args and returns the exit code. Errors are
// printed once, on stderr, as "vendorimg: message".
func Execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	g := &globals{stdout: stdout, stderr: stderr}
	root := newRootCommand(g)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err != nil && !g.json && slices.Contains(args, "--json") {
		g.json = true // the flag parse failed before it reached --json
	}
	if err != nil && g.json && !g.printed {
		// Every command prints one document with --json, also when it
		// fails before it has anything else to say.
		_ = g.finish(nil, err)
	}
	if err == nil {
		return exitOK
	}
	var qe quietError
	if errors.As(err, &qe) {
		return exitFailure
	}
	fmt.Fprintf(stderr, "vendorimg: %s\n", err)
	var ue usageError
	if errors.As(err, &ue) || isCobraUsageError(err) {
		if cmd != nil {
			fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
		}
		return exitUsage
	}
	return exitFailure
}

// isCobraUsageError recognises cobra's own errors for unknown commands.
func isCobraUsageError(err error) bool {
	msg := err.Error()
	return strings.HasPrefix(msg, "unknown command") || strings.HasPrefix(msg, "unknown flag") ||
		strings.HasPrefix(msg, "unknown shorthand flag") || strings.Contains(msg, "flag needs an argument")
}

func newRootCommand(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "vendorimg",
		Short: "Vendor container images pinned by digest into your repository",
		Long: `vendorimg pulls container images pinned by digest straight from any registry
(no docker daemon) into an OCI image layout committed in your repository,
loads them into docker from disk with no network, and proves after your
tests that the images did not change.

The images are listed in vendorimg.yaml, found in the current folder or its
nearest parent (like go.mod); -C and --config choose another.`,
		Example: `  vendorimg add docker.io/library/alpine:3.19.1 --platform linux/amd64 --platform linux/arm64
  vendorimg sync --offline     # in CI: fails if anything is missing, never fetches
  vendorimg verify --deep      # rehash every blob, check every layer's diff_id`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       vendorimg.Version(),
		// newCompletionCommand replaces cobra's own, which has no example
		// and offers powershell, a shell vendorimg does not run under.
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if g.quiet && g.verbose {
				return usagef("-q and -v cannot be used together")
			}
			level := slog.LevelWarn
			if g.verbose {
				level = slog.LevelDebug
			}
			if g.quiet {
				level = slog.LevelError
			}
			g.logger = slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: level}))
			return nil
		},
	}
	root.SetVersionTemplate(versionLine() + "\n")
	pf := root.PersistentFlags()
	pf.StringVarP(&g.dir, "dir", "C", "", "run as if started in `DIR`")
	pf.StringVar(&g.configPath, "config", "", "use the configuration `FILE` instead of finding vendorimg.yaml")
	pf.BoolVar(&g.json, "json", false, "print machine-readable JSON on stdout (see docs/json.md for its form)")
	pf.BoolVarP(&g.quiet, "quiet", "q", false, "print only errors")
	pf.BoolVarP(&g.verbose, "verbose", "v", false, "log each request and decision on stderr")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newServeCommand(g), newPushCommand(g))
	root.AddCommand(
		newAddCommand(g), newUpdateCommand(g), newRemoveCommand(g), newOutdatedCommand(g),
		newSyncCommand(g), newVerifyCommand(g), newStatusCommand(g), newGCCommand(g),
		newLoadCommand(g), newUnloadCommand(g), newWatchCommand(g), newVersionCommand(g), newCompletionCommand(g),
	)
	g.setCompletions(root)
	return root
}

// baseDir is the folder the command acts in.
func (g *globals) baseDir() (string, error) {
	if g.dir == "" {
		return os.Getwd()
	}
	fi, err := os.Stat(g.dir)
	if err != nil {
		return "", usagef("-C %s: %w", g.dir, err)
	}
	if !fi.IsDir() {
		return "", usagef("-C %s: not a folder", g.dir)
	}
	return filepath.Abs(g.dir)
}

// configFile is the path of the configuration to use, which may not exist
// (for add).
func (g *globals) configFile() (string, error) {
	base, err := g.baseDir()
	if err != nil {
		return "", err
	}
	if g.configPath != "" {
		if filepath.IsAbs(g.configPath) {
			return g.configPath, nil
		}
		return filepath.Join(base, g.configPath), nil
	}
	return config.Find(base)
}

// loadConfig finds and parses the configuration.
func (g *globals) loadConfig(ctx context.Context) (*config.Config, error) {
	path, err := g.configFile()
	if err != nil {
		if errors.Is(err, errs.ErrNoConfig) {
			return nil, fmt.Errorf("%w (create one with vendorimg add REF)", err)
		}
		return nil, err
	}
	return config.Load(ctx, path)
}

// args wraps a cobra argument validator so that its failure is a usage error.
func args(v cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error {
		if err := v(cmd, a); err != nil {
			return usageError{err}
		}
		return nil
	}
}
