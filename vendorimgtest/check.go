package vendorimgtest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/vendorimg/vendorimg/daemon"
)

// check verifies, after the tests, the layout and the images docker holds
// under the loaded tags (daemon.Check), prints every problem to the
// session's stderr, and reports whether there was none.
func (s *session) check(ctx context.Context) bool {
	var problems []string
	add := func(what, expected, actual string) {
		if expected != "" || actual != "" {
			what += fmt.Sprintf("\n      expected %s\n      actual   %s", orDash(expected), orDash(actual))
		}
		problems = append(problems, what)
	}
	var c daemon.Client
	if s.noEngine == nil {
		c = s.client
	}
	rep, err := daemon.Check(ctx, c, s.cfg, daemon.CheckOptions{Images: s.images, Deep: s.deep})
	if rep != nil {
		for _, f := range rep.Layout.Findings {
			add("layout "+f.String(), f.Expected, f.Actual)
		}
		if rep.Daemon != nil {
			for _, f := range rep.Daemon.Findings {
				add(f.String(), f.Expected, f.Actual)
			}
		}
	}
	switch {
	case err != nil && rep == nil:
		add("verifying the layout "+s.layout.Root()+": "+err.Error(), "", "")
	case err != nil:
		add("checking the images in docker at "+s.host+": "+err.Error(), "", "")
	}
	if len(problems) == 0 {
		if testing.Verbose() {
			deep := ""
			if s.deep {
				deep = ", layers checked against diff_ids"
			}
			checked := "docker not checked (no engine)"
			if rep.Daemon != nil {
				checked = fmt.Sprintf("docker still holds the vendored images (%d checked)", len(rep.Daemon.Images))
			}
			blobs := fmt.Sprintf("%d blobs", rep.Layout.Blobs)
			if rep.Layout.Blobs == 1 {
				blobs = "1 blob"
			}
			fmt.Fprintf(s.stderr, "vendorimgtest: ok after the tests: %s rehashed in %s%s; %s\n", blobs, s.layout.Root(), deep, checked)
		}
		return true
	}
	var b strings.Builder
	noun := "problems"
	if len(problems) == 1 {
		noun = "problem"
	}
	fmt.Fprintf(&b, "vendorimgtest: the vendored images changed during the tests (%d %s):\n", len(problems), noun)
	for _, p := range problems {
		fmt.Fprintf(&b, "  %s\n", p)
	}
	b.WriteString(`vendorimgtest: "vendorimg verify --deep --daemon" shows this again; "vendorimg load" puts the vendored images back into docker; restore a changed layout from git` + "\n")
	fmt.Fprint(s.stderr, b.String())
	return false
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
