package sigexec

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/internal/version"
	"github.com/vendorimg/vendorimg/layout"
)

// Exit codes of the program besides 0 (see the package doc).
const (
	exitError    = 1
	exitUsage    = 2
	exitMismatch = 3
)

// maxStderr bounds how much of the program's stderr goes into an error:
// the head, where a Go panic or an error message starts.
const maxStderr = 8 << 10

// maxFindings bounds how much of the program's stdout is read: a finding
// per image with a policy is a few hundred bytes.
const maxFindings = 64 << 20

// waitDelay bounds how long vendorimg waits for the program's output to
// end once the program exited or was killed (see exec.Cmd.WaitDelay).
const waitDelay = 5 * time.Second

// result is the document the program prints on stdout.
type result struct {
	Findings []layout.Finding `json:"findings"`
}

// Verifier returns a function that checks the signatures of images, which
// must be cfg's (config.Config.Images: those with a verify: policy, the
// same as in cfg's YAML), by running vendorimg-sigverify (Find) on the
// layout l; logger, if not nil, receives its path and its stderr. The
// caller holds l's shared lock while it runs (the program takes none).
// The error is for what stops the check: the program missing, of another
// version or impossible to start (errs.ErrNoSigverify), failed or killed
// (its stderr in the message), or ctx done (ctx's error).
func Verifier(cfg *config.Config, logger *slog.Logger) func(context.Context, *layout.Layout, []config.Image) ([]layout.Finding, error) {
	return func(ctx context.Context, l *layout.Layout, images []config.Image) ([]layout.Finding, error) {
		if !slices.ContainsFunc(images, func(im config.Image) bool { return im.Verify != nil }) {
			return nil, nil
		}
		data, err := request(cfg, images)
		if err != nil {
			return nil, err
		}
		path, err := Find()
		if err != nil {
			return nil, err
		}
		return run(ctx, path, cfg.Path, l.Root(), bytes.NewReader(data), logger)
	}
}

// request is the configuration's YAML for the program's stdin, after
// checking that parsing it gives the policies of images, so that the
// program checks what the caller asked for.
func request(cfg *config.Config, images []config.Image) ([]byte, error) {
	data, err := cfg.Encode()
	if err != nil {
		return nil, err
	}
	again, err := config.Parse(cfg.Path, data)
	if err != nil {
		return nil, fmt.Errorf("passing %s to %s: %w", cfg.Path, Program, err)
	}
	want := withPolicy(images)
	got := withPolicy(again.Images)
	if !slices.EqualFunc(want, got, sameCheck) {
		return nil, fmt.Errorf("%w: passing %s to %s: the images with a verify: policy are not those of the configuration's YAML (edited in memory but not through config.Config.Set?): %s, want %s",
			errs.ErrConfig, cfg.Path, Program, names(got), names(want))
	}
	return data, nil
}

func withPolicy(images []config.Image) []config.Image {
	return slices.DeleteFunc(slices.Clone(images), func(im config.Image) bool { return im.Verify == nil })
}

// sameCheck reports whether a and b are checked the same way.
func sameCheck(a, b config.Image) bool {
	pa, pb := *a.Verify, *b.Verify
	pa.Line, pb.Line = 0, 0
	return a.Name() == b.Name() && a.Digest == b.Digest && a.Platforms.Equal(b.Platforms) && pa == pb
}

func names(images []config.Image) string {
	var out []string
	for _, im := range images {
		out = append(out, fmt.Sprintf("%s@%s (%s, %+v)", im.Name(), im.Digest, im.Platforms, *im.Verify))
	}
	return "[" + strings.Join(out, ", ") + "]"
}

// run runs the program at path on the layout at root with stdin, and
// reads its findings. logger may be nil.
func run(ctx context.Context, path, cfgPath, root string, stdin io.Reader, logger *slog.Logger) ([]layout.Finding, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	// name=value: a value that starts with "-" stays a value.
	args := []string{"--vendorimg-version=" + version.Module(), "--config=" + cfgPath, "--layout=" + root}
	if c := version.Commit(); c != "" {
		args = append(args, "--vendorimg-commit="+c)
	}
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Stdin = stdin
	var stdout bytes.Buffer
	out := &limitWriter{w: &stdout, n: maxFindings}
	stderr := &headWriter{max: maxStderr}
	cmd.Stdout, cmd.Stderr = out, stderr
	cmd.WaitDelay = waitDelay
	logger.DebugContext(ctx, "running the signature verification program", "path", path, "args", args)
	err := cmd.Run()
	if s := stderr.String(); s != "" {
		logger.DebugContext(ctx, "signature verification program's stderr", "path", path, "stderr", s)
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("running %s: %w", path, ctx.Err())
	}
	var ee *exec.ExitError
	switch {
	case out.exceeded:
		// The program may have died of SIGPIPE since: this is why.
		return nil, fmt.Errorf("running %s: it printed more than %d bytes on stdout", path, maxFindings)
	case errors.As(err, &ee) && ee.ExitCode() == exitMismatch:
		return nil, fmt.Errorf("%w: %s: %s", errs.ErrNoSigverify, path, stderr.message())
	case errors.As(err, &ee):
		// Killed by a signal, or failed: ExitError says which.
		return nil, fmt.Errorf("running %s: %v: %s", path, ee, stderr.message())
	case err != nil && cmd.ProcessState == nil:
		// Never started: not executable, another platform's binary.
		return nil, fmt.Errorf("%w: starting %s: %v; %s", errs.ErrNoSigverify, path, err, Hint(version.Module()))
	case err != nil:
		return nil, fmt.Errorf("running %s: %w", path, err)
	}
	var res result
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil || res.Findings == nil {
		return nil, fmt.Errorf("running %s: want one {\"findings\": [...]} document on stdout, got %q (%v)", path, truncate(stdout.String()), err)
	}
	return res.Findings, nil
}

// headWriter keeps the first max bytes written to it and counts the rest.
type headWriter struct {
	max     int
	buf     bytes.Buffer
	dropped int
}

func (w *headWriter) Write(p []byte) (int, error) {
	n := min(len(p), w.max-w.buf.Len())
	w.buf.Write(p[:n])
	w.dropped += len(p) - n
	return len(p), nil
}

func (w *headWriter) String() string { return w.buf.String() }

// message is what was written, for an error message: trimmed, with the
// count of bytes dropped, or a note that there was nothing.
func (w *headWriter) message() string {
	s := strings.TrimSpace(w.buf.String())
	if s == "" {
		return "(nothing on stderr)"
	}
	if w.dropped > 0 {
		s += fmt.Sprintf(" [%d more bytes]", w.dropped)
	}
	return s
}

// limitWriter writes at most n bytes to w; a write past that fails, and
// sets exceeded.
type limitWriter struct {
	w        io.Writer
	n        int64
	exceeded bool
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > l.n {
		l.exceeded = true
		return 0, errors.New("output limit reached")
	}
	l.n -= int64(len(p))
	return l.w.Write(p)
}

func truncate(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}
