package e2e_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/vendorimg/vendorimg/config"
)

// TestGoToolGenerateInAnotherModule is the README's go generate setup as a
// user's own module has it, outside this repository: "go get -tool" adds
// vendorimg as a tool (a replace directive points it at this checkout),
// a file holds "//go:generate go tool vendorimg sync -q" beside a
// vendorimg.yaml and a complete layout (this repository's), and
// "go generate ./..." runs with no network at all and no module proxy. It
// must succeed, print nothing, and change no byte or mode of the layout.
//
// Offline, the go command takes vendorimg's dependencies from the module
// cache, which building this checkout has filled; go.sum is this
// checkout's.
func TestGoToolGenerateInAnotherModule(t *testing.T) {
	checkout, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile(filepath.Join(checkout, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goLine := regexp.MustCompile(`(?m)^go \S+$`).Find(gomod)
	cfg, err := config.Load(context.Background(), filepath.Join(checkout, config.FileName))
	if err != nil {
		t.Fatal(err)
	}

	mod := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(mod, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.test/userproject\n\n"+string(goLine)+"\n\nreplace github.com/vendorimg/vendorimg => "+checkout+"\n")
	sum, err := os.ReadFile(filepath.Join(checkout, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	write("go.sum", string(sum))
	write("generate.go", "// Package userproject vendors its test images with go generate.\npackage userproject\n\n//go:generate go tool vendorimg sync -q\n")
	raw, err := os.ReadFile(cfg.Path)
	if err != nil {
		t.Fatal(err)
	}
	write(config.FileName, string(raw))
	layoutRel, err := filepath.Rel(cfg.Dir(), cfg.LayoutDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(filepath.Join(mod, layoutRel), os.DirFS(cfg.LayoutDir())); err != nil {
		t.Fatal(err)
	}

	goEnv := []string{"GOPROXY=off", "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local", "GOWORK=off"}
	r := offline(t, mod, goEnv, "go", "get", "-tool", "github.com/vendorimg/vendorimg/cmd/vendorimg")
	if r.code != 0 {
		t.Fatalf("go get -tool github.com/vendorimg/vendorimg/cmd/vendorimg offline = %d: %s\n(the module cache must hold vendorimg's dependencies: go mod download in the checkout, with network, once)", r.code, r.stderr)
	}
	if b, _ := os.ReadFile(filepath.Join(mod, "go.mod")); !strings.Contains(string(b), "\ntool github.com/vendorimg/vendorimg/cmd/vendorimg\n") {
		t.Fatalf("go get -tool wrote go.mod\n%s\nwant a tool line for vendorimg", b)
	}

	before := snapshotTree(t, mod)
	r = offline(t, mod, goEnv, "go", "generate", "./...")
	if r.code != 0 || r.stdout != "" || r.stderr != "" {
		t.Fatalf("go generate ./... offline in a user's module = %d, stdout %q, stderr %q; want 0 and nothing printed", r.code, r.stdout, r.stderr)
	}
	if after := snapshotTree(t, mod); after != before {
		t.Errorf("go generate changed the user's module:\nbefore\n%s\nafter\n%s", before, after)
	}

	// The directive did run vendorimg: with a blob gone, the same offline
	// go generate fails, as sync cannot fetch it.
	blobs, err := filepath.Glob(filepath.Join(mod, layoutRel, "blobs", "sha256", "*"))
	if err != nil || len(blobs) == 0 {
		t.Fatalf("no blobs in the copied layout: %v", err)
	}
	if err := os.Remove(blobs[0]); err != nil {
		t.Fatal(err)
	}
	r = offline(t, mod, goEnv, "go", "generate", "./...")
	if r.code == 0 || !strings.Contains(r.stderr, "vendorimg: ") {
		t.Errorf("go generate offline with a blob missing = %d, stderr %q; want vendorimg's error", r.code, r.stderr)
	}
}

// snapshotTree lists every file under root with its mode and sha256.
func snapshotTree(t *testing.T, root string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		b.WriteString(rel + " " + fi.Mode().String())
		if !d.IsDir() {
			content, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, " %x", sha256.Sum256(content))
		}
		b.WriteString("\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}
