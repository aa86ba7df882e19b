package sigexec

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/internal/version"
	"github.com/vendorimg/vendorimg/layout"
)

// maxConfig bounds how much of stdin is read: config.Load reads no more
// of a vendorimg.yaml.
const maxConfig = 1 << 20

// VerifyFunc checks the signatures of the images with a verify: policy in
// a layout (sigverify.Verify).
type VerifyFunc func(ctx context.Context, l *layout.Layout, images []config.Image) ([]layout.Finding, error)

// Main is vendorimg-sigverify: it reads the request (args and stdin, see
// the package doc), checks it with verify, prints the findings document
// on stdout and returns the exit code: 0, 1 (an error, on stderr), 2 (a
// usage error) or 3 (not vendorimg's version). "--version" prints the
// program's version.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, verify VerifyFunc) int {
	fs := flag.NewFlagSet(Program, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, `usage: %s --vendorimg-version VERSION [--vendorimg-commit COMMIT] --config PATH --layout FOLDER <vendorimg.yaml

%s checks the signatures vendored in an OCI layout against the verify:
policies of vendorimg.yaml, offline, for "vendorimg verify", which runs it
with the layout's shared lock held: it takes no lock itself. The
configuration's bytes come on stdin, parsed as the file at --config. It
prints {"findings": [...]} on stdout. It refuses (exit 3) to run for a
vendorimg of another version than its own.

`, Program, Program)
		fs.PrintDefaults()
	}
	var req struct {
		version, commit, config, layout string
		printVersion                    bool
	}
	fs.StringVar(&req.version, "vendorimg-version", "", "the `VERSION` of the vendorimg that runs it (required, must be this program's)")
	fs.StringVar(&req.commit, "vendorimg-commit", "", "the `COMMIT` that vendorimg was built from, if it knows (must be this program's, if it knows its own)")
	fs.StringVar(&req.config, "config", "", "the `PATH` of the vendorimg.yaml whose bytes are on stdin, as vendorimg holds it (required)")
	fs.StringVar(&req.layout, "layout", "", "the layout `FOLDER` (required)")
	fs.BoolVar(&req.printVersion, "version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return exitUsage
	}
	if req.printVersion {
		fmt.Fprintf(stdout, "%s %s\n", Program, describe(version.Module(), version.Commit()))
		return 0
	}
	switch {
	case fs.NArg() > 0:
		return usage(stderr, "unexpected arguments %q", fs.Args())
	case req.version == "":
		return usage(stderr, "--vendorimg-version is required: %s is run by vendorimg verify, not by hand", Program)
	case req.config == "" || req.layout == "":
		return usage(stderr, "--config and --layout are required")
	}
	if own, ownCommit := version.Module(), version.Commit(); !compatible(own, ownCommit, req.version, req.commit) {
		fmt.Fprintf(stderr, "%s is version %s, but vendorimg is %s: use the %s of vendorimg's version; %s\n",
			Program, describe(own, ownCommit), describe(req.version, req.commit), Program, Hint(req.version))
		return exitMismatch
	}
	findings, err := check(ctx, req.config, req.layout, stdin, verify)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", Program, err)
		return exitError
	}
	if findings == nil {
		findings = []layout.Finding{}
	}
	b, err := json.Marshal(result{Findings: findings})
	if err == nil {
		_, err = stdout.Write(append(b, '\n'))
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: writing the findings: %v\n", Program, err)
		return exitError
	}
	return 0
}

// check parses the configuration on stdin as the file at path and checks
// its images with verify in the layout at root.
func check(ctx context.Context, path, root string, stdin io.Reader, verify VerifyFunc) ([]layout.Finding, error) {
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(stdin, maxConfig+1)); err != nil {
		return nil, fmt.Errorf("reading the configuration on stdin: %w", err)
	}
	if buf.Len() > maxConfig {
		return nil, fmt.Errorf("the configuration on stdin is larger than %d bytes", maxConfig)
	}
	cfg, err := config.Parse(path, buf.Bytes())
	if err != nil {
		return nil, err
	}
	return verify(ctx, layout.New(root), cfg.Images)
}

func usage(w io.Writer, format string, args ...any) int {
	fmt.Fprintf(w, "%s: %s (see %s --help)\n", Program, fmt.Sprintf(format, args...), Program)
	return exitUsage
}

// compatible reports whether a program of version own (and commit
// ownCommit) checks for a vendorimg of version v (and commit). A release
// on either side must meet the same release; two development builds
// (development), whose versions say little, need only agree on the
// commit when both know theirs. The same commit when both know it, in
// every case. (go build in a clean checkout stamps a pseudo-version and
// the commit; go test and a dirty or unstamped build say "(devel)"; go
// install of a version records no commit.)
func compatible(own, ownCommit, v, commit string) bool {
	if (!development(own) || !development(v)) && own != v {
		return false
	}
	return commit == "" || ownCommit == "" || commit == ownCommit
}

// development reports whether v is the version of a build of a work tree:
// "(devel)", or a pseudo-version (v0.0.0-20261208041522-876c857f5d40, or
// vX.Y.(Z+1)-0.TIMESTAMP-COMMIT after a tag).
func development(v string) bool {
	if v == "(devel)" {
		return true
	}
	v = strings.TrimSuffix(v, "+dirty")
	i := strings.LastIndexByte(v, '-')
	if i < 0 || len(v)-i-1 != 12 || !isHex(v[i+1:]) {
		return false
	}
	ts := v[:i]
	if j := strings.LastIndexAny(ts, "-."); j >= 0 {
		ts = ts[j+1:]
	}
	return len(ts) == 14 && strings.Trim(ts, "0123456789") == ""
}

func isHex(s string) bool {
	return strings.Trim(s, "0123456789abcdef") == ""
}

// describe is a version with its commit, if known.
func describe(v, commit string) string {
	if commit == "" {
		return v
	}
	return v + " (commit " + commit + ")"
}
