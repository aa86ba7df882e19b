package sigexec

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/internal/version"
)

// Program is the file name of the signature verification program.
const Program = "vendorimg-sigverify"

// EnvVar names the environment variable that gives the program's path,
// before any other place.
const EnvVar = "VENDORIMG_SIGVERIFY"

// Package is the program's import path, for go install.
const Package = "github.com/vendorimg/vendorimg/cmd/" + Program

// Find returns the path of the vendorimg-sigverify to run: $VENDORIMG_SIGVERIFY
// when set, else the one beside the running executable (symbolic links
// resolved), else the one on PATH. It checks that the file is an
// executable regular file, not what it is: the program checks its version
// itself (see the package doc). Not found: an error wrapping
// errs.ErrNoSigverify.
func Find() (string, error) {
	if p := os.Getenv(EnvVar); p != "" {
		if err := executable(p); err != nil {
			return "", fmt.Errorf("%w: %s=%s: %v; %s", errs.ErrNoSigverify, EnvVar, p, err, Hint(version.Module()))
		}
		return p, nil
	}
	var beside string
	if exe, err := os.Executable(); err == nil {
		if real, err := filepath.EvalSymlinks(exe); err == nil {
			exe = real
		}
		beside = filepath.Join(filepath.Dir(exe), Program)
		if executable(beside) == nil {
			return beside, nil
		}
	}
	if p, err := exec.LookPath(Program); err == nil {
		return p, nil
	}
	where := "on PATH"
	if beside != "" {
		where = fmt.Sprintf("beside vendorimg (%s) or on PATH", beside)
	}
	return "", fmt.Errorf("%w (the program that checks verify: policies) %s, and %s is not set; %s",
		errs.ErrNoSigverify, where, EnvVar, Hint(version.Module()))
}

// executable returns nil when path is a regular file that someone may
// execute.
func executable(path string) error {
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		return err
	case !fi.Mode().IsRegular():
		return fmt.Errorf("not a regular file")
	case fi.Mode().Perm()&0o111 == 0:
		return fs.ErrPermission
	}
	return nil
}

// Hint says how to get the vendorimg-sigverify of the vendorimg of
// version v (internal/version.Module).
func Hint(v string) string {
	install := fmt.Sprintf("go install %s@%s", Package, v)
	if !strings.HasPrefix(v, "v") {
		// A build from a work tree: there is no version to install.
		install = fmt.Sprintf("from the same checkout, go build -o DIR/ ./cmd/vendorimg ./cmd/%s (both into DIR) or go install ./cmd/%s", Program, Program)
	}
	return fmt.Sprintf("the release archive and the vendorimg wheel carry it beside vendorimg; or %s; or set %s to its path", install, EnvVar)
}
