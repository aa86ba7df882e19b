package vendorimgtest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/vendorimg/vendorimg/daemon"
	"github.com/vendorimg/vendorimg/layout"
)

// problem is one thing that breaks the proof that the tests ran against
// the vendored images: a layout finding that is not harmless, or any
// finding about the engine's images.
type problem struct {
	// key identifies the problem across the check before the tests and
	// the one after them.
	key                    string
	what, expected, actual string
}

// proof runs daemon.Check (the layout, and the engine's tags when one
// answers) and returns what breaks the proof, the harmless findings, and
// the report (nil when the layout could not be read at all).
func (s *session) proof(ctx context.Context) (problems []problem, harmless []layout.Finding, rep *daemon.CheckReport) {
	var c daemon.Client
	if s.noEngine == nil {
		c = s.client
	}
	rep, err := daemon.Check(ctx, c, s.cfg, daemon.CheckOptions{Images: s.images, Deep: s.deep, DeepDaemon: s.deepDaemon})
	if rep != nil {
		for _, f := range rep.Layout.Findings {
			if f.Kind.Harmless() {
				harmless = append(harmless, f)
				continue
			}
			problems = append(problems, problem{key: "layout " + string(f.Kind) + " " + f.Path + " " + f.Image, what: "layout " + f.String(), expected: f.Expected, actual: f.Actual})
		}
		if rep.Daemon != nil {
			for _, f := range rep.Daemon.Findings {
				problems = append(problems, problem{key: "daemon " + string(f.Kind) + " " + f.Image + " " + f.Actual, what: f.String(), expected: f.Expected, actual: f.Actual})
			}
		}
	}
	switch {
	case err != nil && rep == nil:
		problems = append(problems, problem{key: "layout error", what: "verifying the layout " + s.layout.Root() + ": " + err.Error()})
	case err != nil:
		problems = append(problems, problem{key: "daemon error", what: "checking the images in docker at " + s.host + ": " + err.Error()})
	}
	return problems, harmless, rep
}

// checkBefore records what already breaks the proof before the tests
// run, so that the check after them can tell it apart from what the tests
// did.
func (s *session) checkBefore(ctx context.Context) {
	problems, _, _ := s.proof(ctx)
	s.before = map[string]bool{}
	for _, p := range problems {
		s.before[p.key] = true
	}
}

// check verifies, after the tests, the layout and the images docker holds
// under the loaded tags, prints every problem to the session's stderr
// (saying whether it was already there before the tests started or
// appeared during them), and reports whether there was none. Harmless
// findings (an unreferenced blob, an extra file) do not fail the run.
func (s *session) check(ctx context.Context) bool {
	problems, harmless, rep := s.proof(ctx)
	if len(problems) == 0 {
		if testing.Verbose() {
			deep := ""
			if s.deep {
				deep = ", layers checked against diff_ids"
			}
			checked := "docker not checked (no engine)"
			if rep.Daemon != nil {
				checked = fmt.Sprintf("docker still holds the vendored images (%d checked)", len(rep.Daemon.Images))
				if rep.Daemon.Deep {
					checked = fmt.Sprintf("docker still holds the vendored images (%d checked, %.1f MiB exported from docker and rehashed)", len(rep.Daemon.Images), float64(rep.Daemon.Bytes)/(1<<20))
				}
			}
			fmt.Fprintf(s.stderr, "vendorimgtest: ok after the tests: %s rehashed in %s%s; %s\n", plural(rep.Layout.Blobs, "blob"), s.layout.Root(), deep, checked)
			for _, f := range harmless {
				fmt.Fprintf(s.stderr, "vendorimgtest: note (harmless): layout %s\n", f)
			}
		}
		return true
	}
	var during, before []problem
	for _, p := range problems {
		if s.before[p.key] {
			before = append(before, p)
		} else {
			during = append(during, p)
		}
	}
	var b strings.Builder
	write := func(title string, ps []problem) {
		if len(ps) == 0 {
			return
		}
		fmt.Fprintf(&b, "vendorimgtest: %s (%s):\n", title, plural(len(ps), "problem"))
		for _, p := range ps {
			fmt.Fprintf(&b, "  %s\n", p.what)
			if p.expected != "" || p.actual != "" {
				fmt.Fprintf(&b, "      expected %s\n      actual   %s\n", orDash(p.expected), orDash(p.actual))
			}
		}
	}
	write("the vendored images changed during the tests", during)
	write("already wrong before the tests started", before)
	b.WriteString(`vendorimgtest: "vendorimg verify --deep --daemon" shows this again; "vendorimg load" puts the vendored images back into docker; restore a changed layout from git, or "vendorimg sync --repair"` + "\n")
	fmt.Fprint(s.stderr, b.String())
	return false
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
