package testimage

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Ref is the image's name: a registry under the reserved .test top-level
// domain, so that it can never be mistaken for (or resolve to) a real
// registry's image.
const Ref = "registry.vendorimg.test/probe:1"

// ProbePackage is the import path of the program the image runs.
const ProbePackage = "github.com/vendorimg/vendorimg/internal/testsupport/testimage/probe"

// Platforms are the platforms Index builds by default.
var Platforms = []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}}

// buildFlags are the go build flags that make the binary depend on the
// source and the Go toolchain only: no file system paths, no VCS stamp (the
// commit and dirty state of the checkout), no build ID, no symbol tables.
var buildFlags = []string{"-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid="}

// Options configure the build.
type Options struct {
	// Go is the go command that compiles the program. Default "go", looked
	// up in PATH. The image's bytes depend on its version.
	Go string
	// Dir is the folder the go command runs in; it must be inside the
	// vendorimg module. Default: the current folder.
	Dir string
	// Package is the import path of the program to build. Default
	// ProbePackage.
	Package string
}

func (o Options) withDefaults() Options {
	if o.Go == "" {
		o.Go = "go"
	}
	if o.Package == "" {
		o.Package = ProbePackage
	}
	return o
}

// env is the go command's environment: the caller's, with every setting
// that changes the output fixed. The go env file is ignored (GOENV=off),
// so that a GOFLAGS or GOEXPERIMENT written there by "go env -w" cannot
// leak in, and neither can a -race or -cover in the caller's GOFLAGS;
// GOWORK is off and the instruction-set levels are the baselines.
func env(goarch string) []string {
	fixed := [][2]string{
		{"GOENV", "off"},
		{"GOFLAGS", ""},
		{"GOEXPERIMENT", ""},
		{"GOWORK", "off"},
		{"CGO_ENABLED", "0"},
		{"GOOS", "linux"},
		{"GOARCH", goarch},
		{"GOAMD64", "v1"},
		{"GOARM64", "v8.0"},
	}
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !slices.ContainsFunc(fixed, func(f [2]string) bool { return f[0] == k }) {
			out = append(out, kv)
		}
	}
	for _, f := range fixed {
		out = append(out, f[0]+"="+f[1])
	}
	if os.Getenv("GOTOOLCHAIN") == "" {
		// Without the env file the default would be "auto": build with the
		// go command given, never one it downloads, unless told otherwise.
		out = append(out, "GOTOOLCHAIN=local")
	}
	return out
}

func checkPlatform(p v1.Platform) error {
	if p.OS != "linux" || p.Architecture == "" || p.Variant != "" || p.OSVersion != "" || len(p.OSFeatures) > 0 || len(p.Features) > 0 {
		return fmt.Errorf("building the probe for %s: only linux/ARCH without a variant is supported", p.String())
	}
	return nil
}

// GoVersion is the version of the go command opts use ("go1.26.8").
func GoVersion(ctx context.Context, opts Options) (string, error) {
	opts = opts.withDefaults()
	out, err := goCommand(ctx, opts, "", "env", "GOVERSION")
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(out), nil
}

// Compile builds the program for p into the file out, reproducibly:
// CGO_ENABLED=0 GOOS=linux GOARCH=arch go build -trimpath -buildvcs=false
// -ldflags="-s -w -buildid=", in an environment where nothing else the
// caller set changes the output.
func Compile(ctx context.Context, p v1.Platform, out string, opts Options) error {
	if err := checkPlatform(p); err != nil {
		return err
	}
	opts = opts.withDefaults()
	args := append([]string{"build"}, buildFlags...)
	args = append(args, "-o", out, opts.Package)
	if _, err := goCommand(ctx, opts, p.Architecture, args...); err != nil {
		return fmt.Errorf("building the probe for %s: %w", p.String(), err)
	}
	return nil
}

func goCommand(ctx context.Context, opts Options, goarch string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, opts.Go, args...)
	cmd.Dir = opts.Dir
	cmd.Env = env(goarch)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			return "", fmt.Errorf("running %s %s: %w", opts.Go, strings.Join(args, " "), err)
		}
		return "", fmt.Errorf("running %s %s: %w: %s", opts.Go, strings.Join(args, " "), err, msg)
	}
	return stdout.String(), nil
}

// Image compiles the program for p (see Compile) and returns the image
// that runs it (see ImageFromBinary).
func Image(ctx context.Context, p v1.Platform, opts Options) (v1.Image, error) {
	goVersion, err := GoVersion(ctx, opts)
	if err != nil {
		return nil, err
	}
	return compiledImage(ctx, p, goVersion, opts)
}

func compiledImage(ctx context.Context, p v1.Platform, goVersion string, opts Options) (v1.Image, error) {
	dir, err := os.MkdirTemp("", "vendorimg-probe-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "probe")
	if err := Compile(ctx, p, out, opts); err != nil {
		return nil, err
	}
	bin, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	return ImageFromBinary(p, bin, goVersion)
}

// Index builds the image for each platform (default Platforms) and
// returns their OCI image index, in the order given. Building twice with
// the same source and Go version gives the same bytes, hence the same
// digest.
func Index(ctx context.Context, platforms []v1.Platform, opts Options) (v1.ImageIndex, error) {
	if len(platforms) == 0 {
		platforms = Platforms
	}
	goVersion, err := GoVersion(ctx, opts)
	if err != nil {
		return nil, err
	}
	images := make([]v1.Image, 0, len(platforms))
	for _, p := range platforms {
		img, err := compiledImage(ctx, p, goVersion, opts)
		if err != nil {
			return nil, err
		}
		images = append(images, img)
	}
	return IndexOf(platforms, images)
}

// ImageFromBinary returns the OCI image for p whose only layer holds
// binary (see Layer) and whose config runs it: entrypoint /probe, command
// ["echo", "hello from probe"], PATH=/, working folder /, root user,
// created at Epoch, with one history entry that records goVersion.
func ImageFromBinary(p v1.Platform, binary []byte, goVersion string) (v1.Image, error) {
	if err := checkPlatform(p); err != nil {
		return nil, err
	}
	layer, err := Layer(binary)
	if err != nil {
		return nil, err
	}
	diffID, err := layer.DiffID()
	if err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	if img, err = mutate.AppendLayers(img, layer); err != nil {
		return nil, err
	}
	created := v1.Time{Time: Epoch}
	cf := &v1.ConfigFile{
		Architecture: p.Architecture,
		OS:           p.OS,
		Created:      created,
		Config: v1.Config{
			Entrypoint: []string{Binary},
			Cmd:        []string{"echo", "hello from probe"},
			Env:        []string{"PATH=/"},
			WorkingDir: "/",
			Labels: map[string]string{
				"org.opencontainers.image.title":       "probe",
				"org.opencontainers.image.description": "vendorimg's test image: a static Go program (internal/testsupport/testimage/probe)",
			},
		},
		RootFS: v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{diffID}},
		History: []v1.History{{
			Created:   created,
			CreatedBy: `CGO_ENABLED=0 GOOS=linux GOARCH=` + p.Architecture + ` go build -trimpath -buildvcs=false -ldflags="-s -w -buildid=" ./internal/testsupport/testimage/probe`,
			Comment:   "built with " + goVersion,
		}},
	}
	return mutate.ConfigFile(img, cf)
}
