package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCompletionScripts(t *testing.T) {
	for shell, want := range map[string]string{
		"bash": "# bash completion V2 for vendorimg",
		"zsh":  "#compdef vendorimg",
		"fish": "# fish completion for vendorimg",
	} {
		t.Run(shell, func(t *testing.T) {
			code, stdout, stderr := run(t, "completion", shell)
			if code != 0 || !strings.HasPrefix(stdout, want) || stderr != "" {
				t.Errorf("vendorimg completion %s = exit %d, stdout starting %.40q, stderr %q; want 0 and a script starting %q", shell, code, stdout, stderr, want)
			}
			// The scripts ask "vendorimg __complete" for candidates.
			if !strings.Contains(stdout, "__complete") {
				t.Errorf("vendorimg completion %s does not call vendorimg __complete", shell)
			}
		})
	}
	for _, a := range [][]string{{"completion"}, {"completion", "tcsh"}, {"completion", "bash", "zsh"}, {"--json", "completion", "bash"}} {
		if code, _, _ := run(t, a...); code != exitUsage {
			t.Errorf("vendorimg %s = exit %d, want %d", strings.Join(a, " "), code, exitUsage)
		}
	}
}

// TestCompletionCandidates drives cobra's __complete, which the scripts
// call, as a shell would.
func TestCompletionCandidates(t *testing.T) {
	dir := t.TempDir()
	yaml := `images:
  - ref: registry.example.test/a:1
    digest: sha256:c5b1261d6d3e43071626931fc004f70149baeba2c8ec672bd4f27761f8e1ad6b
    platforms: [linux/amd64]
  - ref: alpine:3.19.1
    digest: sha256:c5b1261d6d3e43071626931fc004f70149baeba2c8ec672bd4f27761f8e1ad6b
    platforms: all
`
	if err := os.WriteFile(filepath.Join(dir, "vendorimg.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"-C", dir, "load", ""}, []string{"registry.example.test/a:1", "docker.io/library/alpine:3.19.1"}},
		{[]string{"-C", dir, "remove", "registry.example.test/a:1", ""}, []string{"docker.io/library/alpine:3.19.1"}},
		{[]string{"-C", dir, "sync", ""}, nil},
		{[]string{"-C", t.TempDir(), "unload", ""}, nil}, // no vendorimg.yaml: nothing, and no error
		{[]string{"completion", ""}, []string{"bash", "zsh", "fish"}},
		{[]string{"ver"}, []string{"verify", "version"}},
	} {
		code, stdout, stderr := run(t, append([]string{"__complete"}, tc.args...)...)
		lines := strings.Split(strings.TrimSpace(stdout), "\n")
		var got []string
		for _, l := range lines[:len(lines)-1] { // the last line is the directive
			name, _, _ := strings.Cut(l, "\t") // and a description may follow a tab
			got = append(got, name)
		}
		if code != 0 || strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("vendorimg __complete %q = exit %d, %q (stderr %q); want the candidates %q", tc.args, code, got, stderr, tc.want)
		}
		if directive := lines[len(lines)-1]; directive != ":4" {
			t.Errorf("vendorimg __complete %q ended with directive %s, want :4 (no file names)", tc.args, directive)
		}
	}
}

func TestVersionAndVersionFlagAgree(t *testing.T) {
	c1, cmd, e1 := run(t, "version")
	c2, flag, e2 := run(t, "--version")
	if c1 != 0 || c2 != 0 || cmd != flag || !strings.HasPrefix(cmd, "vendorimg ") || e1+e2 != "" {
		t.Errorf("vendorimg version = %d %q %q, vendorimg --version = %d %q %q; want both 0 and the same line", c1, cmd, e1, c2, flag, e2)
	}
}

func TestVersionJSON(t *testing.T) {
	code, out, stderr := run(t, "version", "--json")
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); err != nil || code != 0 || stderr != "" {
		t.Fatalf("vendorimg version --json = %d %q %q (%v), want 0 and one JSON document", code, out, stderr, err)
	}
	if _, ok := doc["version"].(string); !ok {
		t.Errorf("vendorimg version --json = %s, want a string version", out)
	}
	if _, ok := doc["commit"].(string); !ok {
		t.Errorf("vendorimg version --json = %s, want a string commit (empty when the build recorded none)", out)
	}
}
