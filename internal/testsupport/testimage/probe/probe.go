package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Exit statuses.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

const usage = `usage: probe COMMAND [ARG]...
  echo [ARG]...        print the arguments, separated by spaces
  cat FILE...          print the files' contents
  write FILE CONTENT   write CONTENT (no newline added) to FILE
  sha256 FILE...       print "HEX  FILE" per file, as sha256sum does
  ls [DIR]             list DIR (default "."), sorted, folders with "/"
  env                  print the environment, sorted
  sleep SECONDS        sleep (fractions allowed); a signal ends it early
  exit N               exit with status N (0-255)
`

// usageError is a wrong invocation (exit status 2).
type usageError string

func (e usageError) Error() string { return string(e) }

// command is one subcommand: it checks its arguments itself.
type command func(ctx context.Context, args []string, stdout io.Writer) (int, error)

var commands = map[string]command{
	"echo":   echo,
	"cat":    cat,
	"write":  write,
	"sha256": sum,
	"ls":     ls,
	"env":    env,
	"sleep":  sleep,
	"exit":   exit,
}

// run runs the subcommand in args and returns the exit status. Errors go
// to stderr as "probe: message".
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		io.WriteString(stderr, usage)
		return exitUsage
	}
	if args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		io.WriteString(stdout, usage)
		return exitOK
	}
	cmd, ok := commands[args[0]]
	if !ok {
		io.WriteString(stderr, "probe: unknown command "+strconv.Quote(args[0])+"\n"+usage)
		return exitUsage
	}
	code, err := cmd(ctx, args[1:], stdout)
	if err != nil {
		io.WriteString(stderr, "probe: "+args[0]+": "+err.Error()+"\n")
		var ue usageError
		if errors.As(err, &ue) {
			return exitUsage
		}
		if code == exitOK {
			code = exitFailure
		}
	}
	return code
}

func wantArgs(args []string, lo, hi int, syntax string) error {
	if len(args) < lo || (hi >= 0 && len(args) > hi) {
		return usageError("want " + syntax)
	}
	return nil
}

func echo(_ context.Context, args []string, stdout io.Writer) (int, error) {
	_, err := io.WriteString(stdout, strings.Join(args, " ")+"\n")
	return exitOK, err
}

func cat(_ context.Context, args []string, stdout io.Writer) (int, error) {
	if err := wantArgs(args, 1, -1, "FILE..."); err != nil {
		return exitUsage, err
	}
	for _, name := range args {
		if err := copyFile(stdout, name); err != nil {
			return exitFailure, err
		}
	}
	return exitOK, nil
}

func copyFile(w io.Writer, name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}

func write(_ context.Context, args []string, _ io.Writer) (int, error) {
	if err := wantArgs(args, 2, 2, "FILE CONTENT"); err != nil {
		return exitUsage, err
	}
	return exitOK, os.WriteFile(args[0], []byte(args[1]), 0o644)
}

func sum(_ context.Context, args []string, stdout io.Writer) (int, error) {
	if err := wantArgs(args, 1, -1, "FILE..."); err != nil {
		return exitUsage, err
	}
	for _, name := range args {
		h := sha256.New()
		if err := copyFile(h, name); err != nil {
			return exitFailure, err
		}
		if _, err := io.WriteString(stdout, hex.EncodeToString(h.Sum(nil))+"  "+name+"\n"); err != nil {
			return exitFailure, err
		}
	}
	return exitOK, nil
}

func ls(_ context.Context, args []string, stdout io.Writer) (int, error) {
	if err := wantArgs(args, 0, 1, "[DIR]"); err != nil {
		return exitUsage, err
	}
	dir := "."
	if len(args) == 1 {
		dir = args[0]
	}
	entries, err := os.ReadDir(dir) // sorted by name
	if err != nil {
		return exitFailure, err
	}
	var b strings.Builder
	for _, e := range entries {
		b.WriteString(e.Name())
		if e.IsDir() {
			b.WriteString("/")
		}
		b.WriteString("\n")
	}
	_, err = io.WriteString(stdout, b.String())
	return exitOK, err
}

func env(_ context.Context, args []string, stdout io.Writer) (int, error) {
	if err := wantArgs(args, 0, 0, "no arguments"); err != nil {
		return exitUsage, err
	}
	vars := os.Environ()
	slices.Sort(vars)
	var b strings.Builder
	for _, v := range vars {
		b.WriteString(v + "\n")
	}
	_, err := io.WriteString(stdout, b.String())
	return exitOK, err
}

// sleep returns 0 both when the time is up and when ctx ends (a signal):
// a container stopped gracefully exits 0, one that had to be killed 137.
func sleep(ctx context.Context, args []string, _ io.Writer) (int, error) {
	if err := wantArgs(args, 1, 1, "SECONDS"); err != nil {
		return exitUsage, err
	}
	s, err := strconv.ParseFloat(args[0], 64)
	if err != nil || s < 0 || s > 1e6 {
		return exitUsage, usageError("SECONDS " + strconv.Quote(args[0]) + " must be a number from 0 to 1000000")
	}
	t := time.NewTimer(time.Duration(s * float64(time.Second)))
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
	return exitOK, nil
}

func exit(_ context.Context, args []string, _ io.Writer) (int, error) {
	if err := wantArgs(args, 1, 1, "N"); err != nil {
		return exitUsage, err
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || n < 0 || n > 255 {
		return exitUsage, usageError("N " + strconv.Quote(args[0]) + " must be an integer from 0 to 255")
	}
	return n, nil
}
