package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/vendorimg/vendorimg/reference"
	"golang.org/x/term"
)

// printJSON writes v as indented JSON and a newline: the --json output.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// humanBytes prints a size with a decimal unit, as docker does.
func humanBytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}

// short is a digest's short form, "sha256:" and 12 hex characters.
func short(d string) string { return reference.Short(d) }

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// table writes aligned columns to stdout, in one write when flushed
// (a tabwriter alone writes cell by cell).
type table struct {
	*tabwriter.Writer
	out *bufio.Writer
}

func (g *globals) newTable() *table {
	out := bufio.NewWriterSize(g.stdout, 64<<10)
	return &table{Writer: tabwriter.NewWriter(out, 0, 4, 2, ' ', 0), out: out}
}

// Flush writes the table.
func (t *table) Flush() error {
	if err := t.Writer.Flush(); err != nil {
		return err
	}
	return t.out.Flush()
}
