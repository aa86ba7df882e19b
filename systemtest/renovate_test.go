package systemtest_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/vendorimg/vendorimg"
	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/internal/testsupport/registrytest"
	"github.com/vendorimg/vendorimg/platform"
	"github.com/vendorimg/vendorimg/reference"
)

// presetFile is the Renovate preset users extend
// ("github>vendorimg/vendorimg//renovate/vendorimg").
const presetFile = "renovate/vendorimg.json"

type renovateManager struct {
	CustomType                string   `json:"customType"`
	ManagerFilePatterns       []string `json:"managerFilePatterns"`
	MatchStrings              []string `json:"matchStrings"`
	DatasourceTemplate        string   `json:"datasourceTemplate"`
	AutoReplaceStringTemplate string   `json:"autoReplaceStringTemplate"`
}

type renovatePreset struct {
	CustomManagers []renovateManager `json:"customManagers"`
	PackageRules   []struct {
		MatchManagers    []string `json:"matchManagers"`
		MatchFileNames   []string `json:"matchFileNames"`
		PostUpgradeTasks struct {
			Commands    []string `json:"commands"`
			FileFilters []string `json:"fileFilters"`
		} `json:"postUpgradeTasks"`
	} `json:"packageRules"`
}

// dep is what Renovate extracts from one match.
type dep struct {
	DepName, CurrentValue, CurrentDigest string
	at                                   int    // where the match starts
	replaceString                        string // the whole match
	indentation                          string
}

func loadPreset(t *testing.T) (renovatePreset, renovateManager, *regexp.Regexp) {
	t.Helper()
	b, err := os.ReadFile(presetFile)
	if err != nil {
		t.Fatal(err)
	}
	var p renovatePreset
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("%s: %v", presetFile, err)
	}
	if len(p.CustomManagers) != 1 || len(p.CustomManagers[0].MatchStrings) != 1 {
		t.Fatalf("%s has %d custom managers, want one with one match string", presetFile, len(p.CustomManagers))
	}
	m := p.CustomManagers[0]
	if m.CustomType != "regex" || m.DatasourceTemplate != "docker" {
		t.Errorf("%s: customType %q, datasourceTemplate %q; want regex and docker", presetFile, m.CustomType, m.DatasourceTemplate)
	}
	s := m.MatchStrings[0]
	// Renovate runs match strings with RE2 (JavaScript syntax), Go's
	// regexp is RE2: only constructs both spell alike may appear. Go 1.22+
	// reads (?<name>...) as JavaScript writes it.
	for _, bad := range []string{"(?P<", "(?i", "(?m", "(?s", "(?=", "(?!", "(?<=", "(?<!", "\\d", "$"} {
		if strings.Contains(s, bad) {
			t.Errorf("the match string uses %q, which Renovate (JavaScript RE2, global flag only) reads differently or not at all: %s", bad, s)
		}
	}
	if regexp.MustCompile(`(^|[^\[])\^`).MatchString(s) {
		t.Errorf("the match string anchors with ^, which without the m flag Renovate reads as the start of the file: %s", s)
	}
	re, err := regexp.Compile(s)
	if err != nil {
		t.Fatalf("the match string does not compile with Go's RE2: %v", err)
	}
	for _, g := range []string{"depName", "currentValue", "currentDigest", "indentation"} {
		if re.SubexpIndex(g) < 0 {
			t.Fatalf("the match string has no group %q", g)
		}
	}
	return p, m, re
}

// extract does what Renovate's regex manager does with the "any"
// strategy: every match of the match string over the whole file.
func extract(re *regexp.Regexp, content string) []dep {
	var out []dep
	for _, loc := range re.FindAllStringSubmatchIndex(content, -1) {
		g := func(name string) string {
			i := re.SubexpIndex(name)
			if loc[2*i] < 0 {
				return ""
			}
			return content[loc[2*i]:loc[2*i+1]]
		}
		out = append(out, dep{DepName: g("depName"), CurrentValue: g("currentValue"), CurrentDigest: g("currentDigest"),
			at: loc[0], replaceString: content[loc[0]:loc[1]], indentation: g("indentation")})
	}
	return out
}

// renovateUpdate updates d in content as Renovate's autoReplace does with
// the preset's autoReplaceStringTemplate: the template rendered with the
// new tag and digest replaces the match, and the result must extract the
// new values again.
func renovateUpdate(t *testing.T, m renovateManager, re *regexp.Regexp, content string, d dep, newValue string, newDigest digest.Digest) string {
	t.Helper()
	const digestIf = "{{#if newDigest}}{{{newDigest}}}{{else}}{{{currentDigest}}}{{/if}}"
	tmpl := m.AutoReplaceStringTemplate
	if !strings.Contains(tmpl, digestIf) {
		t.Fatalf("autoReplaceStringTemplate %q lacks %q", tmpl, digestIf)
	}
	s := strings.ReplaceAll(tmpl, digestIf, newDigest.String())
	for _, kv := range [][2]string{{"depName", d.DepName}, {"newValue", newValue}, {"indentation", d.indentation}} {
		s = strings.ReplaceAll(s, "{{{"+kv[0]+"}}}", kv[1])
	}
	if strings.Contains(s, "{{") {
		t.Fatalf("the template left %q unrendered", s)
	}
	i := strings.Index(content[d.at:], d.replaceString)
	if i < 0 {
		t.Fatalf("replaceString %q not in the file", d.replaceString)
	}
	out := content[:d.at+i] + s + content[d.at+i+len(d.replaceString):]
	found := false
	for _, nd := range extract(re, out) {
		if nd.DepName == d.DepName && nd.CurrentValue == newValue && nd.CurrentDigest == newDigest.String() {
			found = true
		}
	}
	if !found {
		t.Fatalf("after the update Renovate would not find %s:%s@%s again in\n%s", d.DepName, newValue, newDigest, out)
	}
	return out
}

func mustRef(t *testing.T, s string) reference.Reference {
	t.Helper()
	r, err := reference.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRenovatePresetFilesAndRules(t *testing.T) {
	p, m, _ := loadPreset(t)
	var files []*regexp.Regexp
	for _, pat := range m.ManagerFilePatterns {
		if len(pat) < 2 || pat[0] != '/' || pat[len(pat)-1] != '/' {
			t.Fatalf("managerFilePatterns %q: want a /regex/", pat)
		}
		files = append(files, regexp.MustCompile(pat[1:len(pat)-1]))
	}
	matches := func(path string) bool {
		return slices.ContainsFunc(files, func(re *regexp.Regexp) bool { return re.MatchString(path) })
	}
	for path, want := range map[string]bool{"vendorimg.yaml": true, "e2e/vendorimg.yaml": true, "notvendorimg.yaml": false, "vendorimg.yaml.bak": false} {
		if matches(path) != want {
			t.Errorf("managerFilePatterns match %s = %v, want %v", path, !want, want)
		}
	}
	if len(p.PackageRules) != 1 {
		t.Fatalf("%s has %d package rules, want the one with postUpgradeTasks", presetFile, len(p.PackageRules))
	}
	r := p.PackageRules[0]
	if want := []string{"vendorimg --config {{{packageFile}}} sync -q"}; !slices.Equal(r.PostUpgradeTasks.Commands, want) || !slices.Contains(r.MatchManagers, "custom.regex") {
		t.Errorf("postUpgradeTasks.commands = %q for managers %q, want %q for custom.regex", r.PostUpgradeTasks.Commands, r.MatchManagers, want)
	}
	if !slices.Equal(r.PostUpgradeTasks.FileFilters, []string{"**/*"}) {
		t.Errorf("postUpgradeTasks.fileFilters = %q: Renovate commits only the files they name, and sync changes the layout", r.PostUpgradeTasks.FileFilters)
	}
}

// TestRenovatePresetExtracts checks the match string on files vendorimg
// writes (config.Set and Save, what add, update and remove use): exactly
// the right groups for every pinned tag, and nothing for entries it cannot
// update safely.
func TestRenovatePresetExtracts(t *testing.T) {
	_, m, re := loadPreset(t)
	const (
		d1 = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
		d2 = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
		d3 = "sha256:3333333333333333333333333333333333333333333333333333333333333333"
	)
	dir := t.TempDir()
	save := func(t *testing.T, cfg *config.Config) string {
		t.Helper()
		if err := cfg.Save(context.Background()); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(cfg.Path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	pin := func(t *testing.T, cfg *config.Config, ref, d, platforms string) {
		t.Helper()
		sel, err := platform.ParseSelection(strings.Split(platforms, ","))
		if err != nil {
			t.Fatal(err)
		}
		if err := cfg.Set(config.Image{Ref: mustRef(t, ref), Digest: digest.Digest(d), Platforms: sel}); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("new file, host:port, platforms all, several images", func(t *testing.T) {
		cfg, err := config.New(filepath.Join(dir, "a", config.FileName))
		if err != nil {
			t.Fatal(err)
		}
		pin(t, cfg, "127.0.0.1:5000/team/app:1", d1, "linux/amd64,linux/arm64")
		pin(t, cfg, "alpine:3.19.1", d2, "all")
		pin(t, cfg, "registry.example.test:443/deep/path/tool:v2.0.1-rc.1_b", d3, "linux/arm/v7")
		content := save(t, cfg)
		want := []dep{
			{DepName: "127.0.0.1:5000/team/app", CurrentValue: "1", CurrentDigest: d1},
			{DepName: "docker.io/library/alpine", CurrentValue: "3.19.1", CurrentDigest: d2},
			{DepName: "registry.example.test:443/deep/path/tool", CurrentValue: "v2.0.1-rc.1_b", CurrentDigest: d3},
		}
		checkDeps(t, content, extract(re, content), want)

		// The template matters: Renovate's default replacement swaps every
		// occurrence of the tag in the match, and tag 1 is also in
		// 127.0.0.1 (and maybe in the digest).
		naive := strings.ReplaceAll(extract(re, content)[0].replaceString, "1", "2")
		if got := extract(re, naive); len(got) == 1 && got[0].DepName == want[0].DepName {
			t.Errorf("the default replacement would keep %s intact; then the template is not needed", want[0].DepName)
		}
		updated := renovateUpdate(t, m, re, content, extract(re, content)[0], "2", digest.Digest(d3))
		if !strings.Contains(updated, "ref: 127.0.0.1:5000/team/app:2\n    digest: "+d3+"\n    platforms: [linux/amd64, linux/arm64]\n") {
			t.Errorf("the update changed more than the tag and digest:\n%s", updated)
		}
		if _, err := config.Parse(cfg.Path, []byte(updated)); err != nil {
			t.Errorf("vendorimg cannot read the updated file: %v", err)
		}
	})

	t.Run("comments, short refs, re-pinned by update", func(t *testing.T) {
		path := filepath.Join(dir, "b", config.FileName)
		hand := `# Images the end-to-end tests run.
layout: testdata/images # committed to git
images:
  # The base of every test container.
  - ref: alpine:3.19.1
    digest: ` + d1 + ` # pinned by hand
    platforms: [linux/amd64, linux/arm64] # what CI runs on
  # Not followed: a comment on the ref line, or no tag at all.
  - ref: busybox:1.36 # the shell
    digest: ` + d2 + `
    platforms: all
  - ref: registry.example.test:5000/untagged
    digest: ` + d3 + `
    platforms: all
  - ref: "quay.io/org/tool:7"
    digest: ` + d3 + `
    platforms: all
  # The probe.
  - ref: registry.vendorimg.test/probe:1
    digest: ` + d2 + `
    platforms: [linux/amd64]
# End of the list.
`
		cfg, err := config.Parse(path, []byte(hand))
		if err != nil {
			t.Fatal(err)
		}
		pin(t, cfg, "registry.vendorimg.test/probe:1", d3, "linux/amd64") // as update re-pins
		content := save(t, cfg)
		if !strings.Contains(content, "  - ref: alpine:3.19.1\n") || !strings.Contains(content, "# pinned by hand") {
			t.Fatalf("Save did not keep the short ref and the comments:\n%s", content)
		}
		checkDeps(t, content, extract(re, content), []dep{
			{DepName: "alpine", CurrentValue: "3.19.1", CurrentDigest: d1},
			{DepName: "registry.vendorimg.test/probe", CurrentValue: "1", CurrentDigest: d3},
		})
		updated := renovateUpdate(t, m, re, content, extract(re, content)[0], "3.19.4", digest.Digest(d2))
		if !strings.Contains(updated, "  - ref: alpine:3.19.4\n    digest: "+d2+" # pinned by hand\n") {
			t.Errorf("the update lost the line's comment or shape:\n%s", updated)
		}
		if strings.Count(updated, "#") != strings.Count(content, "#") {
			t.Errorf("the update dropped comments:\n%s", updated)
		}
	})

	t.Run("CRLF", func(t *testing.T) {
		content := "images:\r\n  - ref: alpine:3.19.1\r\n    digest: " + d1 + "\r\n    platforms: all\r\n"
		got := extract(re, content)
		checkDeps(t, content, got, []dep{{DepName: "alpine", CurrentValue: "3.19.1", CurrentDigest: d1}})
		if updated := renovateUpdate(t, m, re, content, got[0], "3.19.4", digest.Digest(d2)); strings.Count(updated, "\r\n") != 4 {
			t.Errorf("the update changed line ends: %q", updated)
		}
	})
}

func checkDeps(t *testing.T, content string, got, want []dep) {
	t.Helper()
	strip := func(ds []dep) []dep {
		out := make([]dep, len(ds))
		for i, d := range ds {
			out[i] = dep{DepName: d.DepName, CurrentValue: d.CurrentValue, CurrentDigest: d.CurrentDigest}
		}
		return out
	}
	if !slices.Equal(strip(got), want) {
		t.Fatalf("Renovate extracts\n%+v\nfrom\n%s\nwant\n%+v", strip(got), content, want)
	}
}

// TestRenovateUpdateSyncsAndVerifies is a Renovate update end to end, on
// the real distribution registry: vendorimg add pins a tag; the tag moves
// (a second push) and another tag appears; the preset's replacement
// re-pins each as Renovate does; the preset's postUpgradeTasks command
// (vendorimg --config vendorimg.yaml sync -q) vendors them, and verify
// passes with no finding.
func TestRenovateUpdateSyncsAndVerifies(t *testing.T) {
	t.Parallel() // its own registry and folders: it overlaps the package's long tests
	p, m, re := loadPreset(t)
	ctx := context.Background()
	reg := registrytest.Start(t, registrytest.Options{})
	two := []string{"linux/amd64", "linux/arm64"}
	v1 := registrytest.Push(t, reg.Host+"/renovate/app:1", registrytest.Index(t, two, 2, 2000, 101, registrytest.OCI))
	registrytest.Push(t, reg.Host+"/renovate/tool:1.0", registrytest.Index(t, two, 1, 2000, 102, registrytest.Docker))

	dir := t.TempDir()
	cfg, err := config.New(filepath.Join(dir, config.FileName))
	if err != nil {
		t.Fatal(err)
	}
	both, err := platform.ParseSelection(two)
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{reg.Host + "/renovate/app:1", reg.Host + "/renovate/tool:1.0"} {
		if _, err := vendorimg.Add(ctx, cfg, vendorimg.AddOptions{Ref: mustRef(t, ref), Platforms: both}); err != nil {
			t.Fatalf("add %s: %v", ref, err)
		}
	}
	before, err := os.ReadFile(cfg.Path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(before), v1.String()) {
		t.Fatalf("add did not pin %s:\n%s", v1, before)
	}

	// Upstream: app:1 moves, tool gets 1.1.
	v2 := registrytest.Push(t, reg.Host+"/renovate/app:1", registrytest.Index(t, two, 2, 2000, 103, registrytest.OCI))
	tool11 := registrytest.Push(t, reg.Host+"/renovate/tool:1.1", registrytest.Index(t, two, 1, 2000, 104, registrytest.Docker))

	content := string(before)
	deps := extract(re, content)
	if len(deps) != 2 || deps[0].DepName != reg.Host+"/renovate/app" || deps[1].DepName != reg.Host+"/renovate/tool" {
		t.Fatalf("Renovate extracts %+v from\n%s", deps, content)
	}
	content = renovateUpdate(t, m, re, content, deps[0], "1", v2) // a digest update
	content = renovateUpdate(t, m, re, content, extract(re, content)[1], "1.1", tool11)
	if err := os.WriteFile(cfg.Path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}

	// The postUpgradeTasks command, as Renovate runs it from the
	// repository's root with {{{packageFile}}} rendered.
	command := strings.ReplaceAll(p.PackageRules[0].PostUpgradeTasks.Commands[0], "{{{packageFile}}}", config.FileName)
	argv := strings.Fields(command)
	if argv[0] != "vendorimg" {
		t.Fatalf("postUpgradeTasks runs %q, want vendorimg", argv[0])
	}
	cmd := exec.Command(vendorimgBinary(t), argv[1:]...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil || len(out) != 0 {
		t.Fatalf("%s: %v, printed %q; want success and nothing (-q)", command, err, out)
	}

	cfg, err = config.Load(ctx, cfg.Path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Images[0].Digest != v2 || cfg.Images[1].Digest != tool11 || cfg.Images[1].Ref.Tag != "1.1" {
		t.Errorf("after the update vendorimg.yaml pins %v, want app:1 at %s and tool:1.1 at %s", cfg.Images, v2, tool11)
	}
	rep, err := vendorimg.Verify(ctx, cfg, vendorimg.VerifyOptions{Deep: true})
	if err != nil || !rep.OK() {
		t.Fatalf("verify --deep after the Renovate update: %v, findings %v", err, rep)
	}
	for _, im := range rep.Images {
		if len(im.Platforms) != 2 {
			t.Errorf("%s vendored for %v, want both platforms kept", im.Name, im.Platforms)
		}
	}
}
