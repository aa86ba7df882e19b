// Command benchtool is scripts/bench's helper:
//
//	benchtool run -raw FILE -key KEY -round N [-reps K] -- CMD [ARG]...
//	    runs CMD K times (default 1), stdout discarded, and appends per run
//	    "KEY ROUND REP SECONDS MAXRSS_KIB" (tab-separated) to FILE. The
//	    wall time is measured in-process (nanoseconds, unlike GNU time's
//	    10 ms); peak RSS is the child's ru_maxrss from wait4, what GNU
//	    time's %M reports. A failing CMD fails the run, showing its stderr.
//	benchtool hash [-j N] PATH...
//	    hashes every regular file under PATHs with crypto/sha256, N files at
//	    once (default: every core), printing sha256sum-style lines: the
//	    verify baseline.
//	benchtool report -raw FILE -rows FILE [-tsv FILE]
//	    prints the benchmark's table (see report.go).
//	benchtool gzarchive -layout DIR -tag REF -o FILE
//	    writes a docker-archive with the layout's gzip layers (archive.go).
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: benchtool run|hash|report|gzarchive ...")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "run":
		err = runCmd(os.Args[2:])
	case "hash":
		err = hashCmd(os.Args[2:])
	case "report":
		err = reportCmd(os.Args[2:])
	case "gzarchive":
		err = archiveCmd(os.Args[2:])
	default:
		err = fmt.Errorf("unknown subcommand %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtool:", err)
		os.Exit(1)
	}
}

func runCmd(args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	raw := fs.String("raw", "", "file to append results to")
	key := fs.String("key", "", "what is measured, e.g. sync-4x64/vendorimg")
	round := fs.Int("round", 0, "round number")
	reps := fs.Int("reps", 1, "runs in a row")
	if err := fs.Parse(args); err != nil {
		return err
	}
	argv := fs.Args()
	if *raw == "" || *key == "" || len(argv) == 0 || *reps < 1 {
		return errors.New("run needs -raw, -key, -reps >= 1 and a command")
	}
	out, err := os.OpenFile(*raw, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer out.Close()
	for rep := 1; rep <= *reps; rep++ {
		var stderr bytes.Buffer
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Stdout = io.Discard
		cmd.Stderr = &stderr
		start := time.Now()
		err := cmd.Run()
		elapsed := time.Since(start)
		if err != nil {
			os.Stderr.Write(stderr.Bytes())
			return fmt.Errorf("%s: %v: %w", *key, argv, err)
		}
		var rss int64
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			rss = int64(ru.Maxrss) // KiB on Linux
		}
		if _, err := fmt.Fprintf(out, "%s\t%d\t%d\t%.6f\t%d\n", *key, *round, rep, elapsed.Seconds(), rss); err != nil {
			return err
		}
	}
	return nil
}
