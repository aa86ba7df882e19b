package release

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// versionPackage is the package whose version and commit variables the
// build sets (internal/version).
const versionPackage = "github.com/vendorimg/vendorimg/internal/version"

// Options says what to release and where.
type Options struct {
	// Version is the release's version (see ParseVersion). Required.
	Version string
	// Root is the repository's root folder. Required.
	Root string
	// OutDir receives the release's files; it is created if missing and
	// must hold nothing but files of this release (a previous run's).
	// Required.
	OutDir string
	// Commit is the git commit the binaries say they were built from;
	// default: Root's HEAD, with "-dirty" when its work tree has changes.
	Commit string
	// Time is every archive and wheel entry's time; default: the time of
	// Root's HEAD commit (SOURCE_DATE_EPOCH is the caller's to read).
	Time time.Time
	// Go is the go command; default "go" on PATH.
	Go string
	// Platforms default to Platforms.
	Platforms []Platform
	// Log, if not nil, receives a line per step.
	Log io.Writer
}

// Artifact is one file of a release.
type Artifact struct {
	Name   string
	SHA256 string
	Size   int64
}

// Result is what Run wrote into OutDir, SHA256SUMS last.
type Result struct {
	Version   Version
	Commit    string
	Artifacts []Artifact
}

// ChecksumsFile is the name of the file that lists every other file's
// SHA-256, in sha256sum's format.
const ChecksumsFile = "SHA256SUMS"

// Run builds the release: the binaries for each platform (vendorimg, and
// vendorimg-sigverify, which vendorimg runs beside it to check verify:
// policies), their archive (vendorimg_VERSION_OS_ARCH.tar.gz holding
// vendorimg_VERSION_OS_ARCH/ with both, README.md and LICENSE), their
// wheel, the pytest-vendorimg wheel, and SHA256SUMS. A repository without a LICENSE file gives
// archives and wheels without one; the caller decides whether that may
// be released (scripts/release refuses unless told).
func Run(ctx context.Context, opts Options) (Result, error) {
	v, err := ParseVersion(opts.Version)
	if err != nil {
		return Result{}, err
	}
	if opts.Root == "" || opts.OutDir == "" {
		return Result{}, errors.New("release: Root and OutDir are required")
	}
	if opts.Go == "" {
		opts.Go = "go"
	}
	if opts.Platforms == nil {
		opts.Platforms = Platforms
	}
	logf := func(format string, args ...any) {
		if opts.Log != nil {
			fmt.Fprintf(opts.Log, format+"\n", args...)
		}
	}
	if opts.Commit == "" || opts.Time.IsZero() {
		commit, t, err := GitState(ctx, opts.Root, opts.OutDir)
		if err != nil {
			return Result{}, err
		}
		if opts.Commit == "" {
			opts.Commit = commit
		}
		if opts.Time.IsZero() {
			opts.Time = t
		}
	}
	readme, err := os.ReadFile(filepath.Join(opts.Root, "README.md"))
	if err != nil {
		return Result{}, err
	}
	licence, err := os.ReadFile(filepath.Join(opts.Root, "LICENSE"))
	if errors.Is(err, fs.ErrNotExist) {
		licence = nil
	} else if err != nil {
		return Result{}, err
	}

	type output struct {
		name string
		data []byte
	}
	var outs []output
	build, err := os.MkdirTemp("", "vendorimg-release-")
	if err != nil {
		return Result{}, err
	}
	defer os.RemoveAll(build)
	for _, p := range opts.Platforms {
		if err := ctx.Err(); err != nil {
			return Result{}, err
		}
		logf("building vendorimg and %s %s for %s", Sigverify, v.Go, p)
		bin, err := buildBinaries(ctx, opts, v, p, filepath.Join(build, p.OS+"_"+p.Arch))
		if err != nil {
			return Result{}, err
		}
		dir := "vendorimg_" + v.Plain + "_" + p.OS + "_" + p.Arch
		files := []File{
			{Name: "vendorimg", Mode: 0o755, Data: bin.vendorimg},
			{Name: Sigverify, Mode: 0o755, Data: bin.sigverify},
			{Name: "README.md", Mode: 0o644, Data: readme},
		}
		if licence != nil {
			files = append(files, File{Name: "LICENSE", Mode: 0o644, Data: licence})
		}
		var tgz bytes.Buffer
		if err := writeTarGz(&tgz, dir, files, opts.Time); err != nil {
			return Result{}, fmt.Errorf("archiving %s: %w", dir, err)
		}
		outs = append(outs, output{dir + ".tar.gz", tgz.Bytes()})
		whl, err := binaryWheel(v, p, bin, readme, licence, opts.Time)
		if err != nil {
			return Result{}, err
		}
		outs = append(outs, output{whl.Name, whl.Data})
	}
	logf("packing the pytest-vendorimg wheel")
	plugin, err := pluginWheel(v, filepath.Join(opts.Root, "python", "pytest-vendorimg"), licence, opts.Time)
	if err != nil {
		return Result{}, err
	}
	outs = append(outs, output{plugin.Name, plugin.Data})
	slices.SortFunc(outs, func(a, b output) int { return strings.Compare(a.name, b.name) })

	names := []string{ChecksumsFile}
	for _, o := range outs {
		names = append(names, o.name)
	}
	if err := prepareOutDir(opts.OutDir, names); err != nil {
		return Result{}, err
	}
	res := Result{Version: v, Commit: opts.Commit}
	var sums strings.Builder
	for _, o := range outs {
		sum := sha256.Sum256(o.data)
		a := Artifact{Name: o.name, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(o.data))}
		if err := writeFileAtomic(filepath.Join(opts.OutDir, o.name), o.data); err != nil {
			return Result{}, err
		}
		fmt.Fprintf(&sums, "%s  %s\n", a.SHA256, a.Name)
		res.Artifacts = append(res.Artifacts, a)
	}
	data := []byte(sums.String())
	if err := writeFileAtomic(filepath.Join(opts.OutDir, ChecksumsFile), data); err != nil {
		return Result{}, err
	}
	sum := sha256.Sum256(data)
	res.Artifacts = append(res.Artifacts, Artifact{Name: ChecksumsFile, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(data))})
	return res, nil
}

// Sigverify is the name of the program that vendorimg runs beside itself
// to check verify: policies (internal/sigexec): every archive and wheel
// carries it in vendorimg's folder.
const Sigverify = "vendorimg-sigverify"

// binaries are the bytes of one platform's programs.
type binaries struct {
	vendorimg, sigverify []byte
}

// buildBinaries cross-compiles cmd/vendorimg and cmd/vendorimg-sigverify
// for p into dir, in one go build, and returns their bytes. The build is
// reproducible: no cgo (the binaries are static and need no C
// toolchain), -trimpath, no VCS stamps, the default instruction set levels
// whatever the environment says, and GOFLAGS cleared so that a
// developer's settings do not change the bytes; the version and commit
// come in through -ldflags (internal/version), the same in both, which
// vendorimg-sigverify checks against vendorimg's.
func buildBinaries(ctx context.Context, opts Options, v Version, p Platform, dir string) (binaries, error) {
	ldflags := fmt.Sprintf("-s -w -X %s.version=%s -X %s.commit=%s", versionPackage, v.Go, versionPackage, opts.Commit)
	cmd := exec.CommandContext(ctx, opts.Go, "build", "-trimpath", "-buildvcs=false", "-ldflags="+ldflags, "-o", dir+string(filepath.Separator), "./cmd/vendorimg", "./cmd/"+Sigverify)
	cmd.Dir = opts.Root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Arch, "GOFLAGS=", "GOAMD64=v1", "GOARM64=v8.0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return binaries{}, fmt.Errorf("building vendorimg and %s for %s: %w\n%s", Sigverify, p, err, msg)
	}
	var b binaries
	var err error
	if b.vendorimg, err = os.ReadFile(filepath.Join(dir, "vendorimg")); err != nil {
		return binaries{}, err
	}
	if b.sigverify, err = os.ReadFile(filepath.Join(dir, Sigverify)); err != nil {
		return binaries{}, err
	}
	return b, nil
}

// GitState is root's HEAD commit ("-dirty" appended when git status lists
// a change, tracked or not, outside the folders in exclude) and its commit
// time. Exclude the release's output folder, so that a release written
// into the work tree does not make the next run's commit dirty.
func GitState(ctx context.Context, root string, exclude ...string) (string, time.Time, error) {
	git := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, "git", append([]string{"-C", root}, args...)...)
		out, err := cmd.Output()
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(ee.Stderr)))
			}
			return "", fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
		}
		return strings.TrimSpace(string(out)), nil
	}
	head, err := git("log", "-1", "--format=%H %ct")
	if err != nil {
		return "", time.Time{}, err
	}
	hash, ts, _ := strings.Cut(head, " ")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("reading the commit time of %s: %w", hash, err)
	}
	args := []string{"status", "--porcelain", "--", "."}
	for _, dir := range exclude {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return "", time.Time{}, err
		}
		absRoot, err := filepath.Abs(root)
		if err != nil {
			return "", time.Time{}, err
		}
		if rel, err := filepath.Rel(absRoot, abs); err == nil && rel != "." && filepath.IsLocal(rel) {
			args = append(args, ":(exclude)"+filepath.ToSlash(rel))
		}
	}
	status, err := git(args...)
	if err != nil {
		return "", time.Time{}, err
	}
	if status != "" {
		hash += "-dirty"
	}
	return hash, time.Unix(sec, 0).UTC(), nil
}

// prepareOutDir creates dir, or checks that it holds nothing but files
// named in names, so that its SHA256SUMS covers everything in it.
func prepareOutDir(dir string, names []string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var others []string
	for _, e := range entries {
		if !slices.Contains(names, e.Name()) {
			others = append(others, e.Name())
		}
	}
	if len(others) > 0 {
		return fmt.Errorf("%s holds files that are not this release's (%s): empty it or choose another folder", dir, strings.Join(others, ", "))
	}
	return nil
}

// writeFileAtomic writes data to path through a temporary file in the
// same folder, so that a reader never sees half a file.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return os.Rename(f.Name(), path)
}
