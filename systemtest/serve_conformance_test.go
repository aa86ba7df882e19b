package systemtest_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/vendorimg/vendorimg/config"
	"github.com/vendorimg/vendorimg/vendorimgtest"
)

// conformanceModule is the OCI distribution-spec conformance suite, at the
// version the module proxy serves (the suite has no tagged release of its
// own module).
const conformanceModule = "github.com/opencontainers/distribution-spec/conformance@v0.0.0-20260831232431-97274622c111"

// conformanceBinary installs the conformance suite with go install into a
// cache outside the checkout ($VENDORIMG_TOOL_CACHE, default
// /var/cache/vendorimg-tools, as scripts/setup has it), once per version
// (it needs the Go module proxy the first time; scripts/setup installs it
// before the tests).
func conformanceBinary(t *testing.T) string {
	t.Helper()
	cache := os.Getenv("VENDORIMG_TOOL_CACHE")
	if cache == "" {
		cache = "/var/cache/vendorimg-tools"
	}
	version := conformanceModule[strings.LastIndex(conformanceModule, "@")+1:]
	bin := filepath.Join(cache, "conformance-"+version, "conformance")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	cmd := exec.Command("go", "install", conformanceModule)
	cmd.Env = append(os.Environ(), "GOBIN="+filepath.Dir(bin))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go install %s: %v\n%s", conformanceModule, err, out)
	}
	return bin
}

// TestServeConformance runs the OCI distribution-spec conformance suite's
// pull tests (with tag listing and referrers) against serve, read-only,
// with the vendored probe image named through its OCI_* variables: its tag,
// its index and platform manifests, its layers and configs. The run fails
// if the suite reports a failure.
func TestServeConformance(t *testing.T) {
	bin := conformanceBinary(t)
	p := committedProbe(t, config.FileName)
	addr := vendorimgtest.Serve(t, vendorimgtest.ServeOptions{Config: config.FileName})
	ents, err := os.ReadDir(filepath.Join(p.cfg.LayoutDir(), "blobs", "sha256"))
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string]bool{}
	for _, d := range p.docs {
		docs[d.String()] = true
	}
	var blobs []string
	for _, e := range ents {
		if d := "sha256:" + e.Name(); !docs[d] {
			blobs = append(blobs, d)
		}
	}
	results := t.TempDir()
	cmd := exec.Command(bin)
	cmd.Dir = results
	cmd.Env = append(os.Environ(),
		"OCI_REGISTRY="+addr,
		"OCI_TLS=disabled",
		"OCI_VERSION=1.1",
		"OCI_REPO1=registry.vendorimg.test/probe",
		"OCI_REPO2=probe",
		"OCI_API_PULL=true",
		"OCI_API_PUSH=false",
		"OCI_API_BLOBS_DELETE=false",
		"OCI_API_MANIFESTS_DELETE=false",
		"OCI_API_TAGS_DELETE=false",
		"OCI_API_TAGS_LIST=true",
		"OCI_API_REFERRER=true",
		// Not OCI_API_*_DIGEST_HEADER=true: with read-only data the suite
		// never keeps the response it would check the header in, and fails
		// every such check; serve's own tests check the header.
		"OCI_RO_DATA_TAGS=1",
		"OCI_RO_DATA_MANIFESTS="+strings.Join(prefixAll("", p.docs), " "),
		"OCI_RO_DATA_BLOBS="+strings.Join(blobs, " "),
		"OCI_RO_DATA_REFERRERS="+p.pin.String(),
		"OCI_RESULTS_DIR="+filepath.Join(results, "results"),
	)
	out, err := cmd.CombinedOutput()
	report := string(out)
	t.Logf("conformance suite against serve:\n%s", summary(report))
	// The suite prints its result before it writes its report files; with
	// only read-only data it crashes writing results.yaml (a nil test data
	// entry in ReportResultsYAML), after the result is known. Its printed
	// result decides then, and any other failure of the binary fails.
	if err != nil && !strings.Contains(report, "ReportResultsYAML") {
		t.Fatalf("the conformance suite failed: %v", err)
	}
	if !strings.Contains(report, "OCI Conformance Result: Pass") {
		t.Fatalf("the conformance suite did not pass:\n%s", report)
	}
	for _, row := range []string{"FAIL", "Error"} {
		m := regexp.MustCompile(`(?m)^\s*` + row + `\.+:\s+(\d+)$`).FindStringSubmatch(report)
		if m == nil || m[1] != "0" {
			t.Errorf("conformance %s count: %v", row, m)
		}
	}
	for _, api := range []string{"Blob get", "Blob head", "Manifest get by digest", "Manifest get by tag", "Manifest head by digest", "Manifest head by tag", "Tag listing", "Referrers", "Ping"} {
		if !regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(api) + `\.+:\s+Pass$`).MatchString(report) {
			t.Errorf("conformance %q did not pass", api)
		}
	}
}

// summary is the suite's result table, without its echo of the settings.
func summary(report string) string {
	if i := strings.Index(report, "OCI Conformance Result"); i >= 0 {
		end := strings.Index(report[i:], "\npanic:")
		if end < 0 {
			return report[i:]
		}
		return report[i : i+end]
	}
	return fmt.Sprintf("(no result table)\n%s", report)
}
