package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
)

// The rows file, written by scripts/bench, is tab-separated:
//
//	tool	KEY	display name
//	row	scenario	SUBJECT_KEY	OTHER_KEY OTHER_KEY...
//
// Each row prints its subject (a vendorimg command) and the others. A key's
// value in one round is the median of its runs in that round; a tool's
// figure is the median over rounds; a ratio is the median over rounds of
// subject/other, both measured in the same round. A key may appear in
// several rows (the bare process is the baseline of several).

type sample struct {
	round   int
	seconds float64
	rssKiB  int64
}

type row struct {
	scenario string
	subject  string
	others   []string
}

func reportCmd(args []string) error {
	fl := flag.NewFlagSet("report", flag.ContinueOnError)
	rawPath := fl.String("raw", "", "results of benchtool run")
	rowsPath := fl.String("rows", "", "rows file")
	tsvPath := fl.String("tsv", "", "also write the summary as TSV here")
	if err := fl.Parse(args); err != nil {
		return err
	}
	samples, err := readRaw(*rawPath)
	if err != nil {
		return err
	}
	names, rows, err := readRows(*rowsPath)
	if err != nil {
		return err
	}
	var tsv io.Writer = io.Discard
	if *tsvPath != "" {
		f, err := os.Create(*tsvPath)
		if err != nil {
			return err
		}
		defer f.Close()
		tsv = f
	}
	fmt.Fprintln(tsv, "scenario\tkey\ttool\trounds\tmedian_s\tround_min_s\tround_max_s\tspread\trss_median_kib\trss_max_kib\tratio_median\tratio_min\tratio_max")
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	fmt.Fprintf(w, "%-48s %10s %21s %7s %9s  %s\n", "scenario / tool", "median", "rounds min..max", "spread", "peak RSS", "vendorimg/this: median of per-round ratios (min..max)")
	for _, r := range rows {
		fmt.Fprintln(w, r.scenario)
		for _, key := range append([]string{r.subject}, r.others...) {
			ss := samples[key]
			name := names[key]
			if name == "" {
				name = key
			}
			if len(ss) == 0 {
				fmt.Fprintf(w, "  %-46s %10s\n", name, "not run")
				continue
			}
			per := perRound(ss)
			vals := values(per)
			med, lo, hi := median(vals), slices.Min(vals), slices.Max(vals)
			spread := (hi - lo) / med
			rss := make([]float64, 0, len(ss))
			for _, s := range ss {
				rss = append(rss, float64(s.rssKiB))
			}
			ratio, rlo, rhi := math.NaN(), math.NaN(), math.NaN()
			ratioText := ""
			if key != r.subject {
				if ratios := roundRatios(perRound(samples[r.subject]), per); len(ratios) > 0 {
					ratio, rlo, rhi = median(ratios), slices.Min(ratios), slices.Max(ratios)
					ratioText = fmt.Sprintf("%.2f (%.2f..%.2f)", ratio, rlo, rhi)
				}
			}
			fmt.Fprintf(w, "  %-46s %10s %21s %6.0f%% %5.1f MiB  %s\n", name, dur(med), dur(lo)+".."+dur(hi), 100*spread, median(rss)/1024, ratioText)
			fmt.Fprintf(tsv, "%s\t%s\t%s\t%d\t%.6f\t%.6f\t%.6f\t%.3f\t%.0f\t%.0f\t%s\t%s\t%s\n", r.scenario, key, name, len(per), med, lo, hi, spread,
				median(rss), slices.Max(rss), num(ratio), num(rlo), num(rhi))
		}
	}
	return nil
}

func readRaw(path string) (map[string][]sample, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string][]sample{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "\t")
		if len(fields) != 5 {
			return nil, fmt.Errorf("%s: bad line %q", path, sc.Text())
		}
		round, err1 := strconv.Atoi(fields[1])
		secs, err2 := strconv.ParseFloat(fields[3], 64)
		rss, err3 := strconv.ParseInt(fields[4], 10, 64)
		if err := errors.Join(err1, err2, err3); err != nil {
			return nil, fmt.Errorf("%s: bad line %q: %w", path, sc.Text(), err)
		}
		out[fields[0]] = append(out[fields[0]], sample{round: round, seconds: secs, rssKiB: rss})
	}
	return out, sc.Err()
}

func readRows(path string) (map[string]string, []row, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	names := map[string]string{}
	var rows []row
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "\t")
		switch {
		case len(fields) == 3 && fields[0] == "tool":
			names[fields[1]] = fields[2]
		case len(fields) == 4 && fields[0] == "row":
			rows = append(rows, row{scenario: fields[1], subject: fields[2], others: strings.Fields(fields[3])})
		case len(fields) == 1 && fields[0] == "":
		default:
			return nil, nil, fmt.Errorf("%s: bad line %q", path, sc.Text())
		}
	}
	return names, rows, sc.Err()
}

// perRound is each round's median.
func perRound(ss []sample) map[int]float64 {
	by := map[int][]float64{}
	for _, s := range ss {
		by[s.round] = append(by[s.round], s.seconds)
	}
	out := map[int]float64{}
	for r, v := range by {
		out[r] = median(v)
	}
	return out
}

func values(m map[int]float64) []float64 {
	out := make([]float64, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func roundRatios(subject, other map[int]float64) []float64 {
	var out []float64
	for r, s := range subject {
		if o, ok := other[r]; ok && o > 0 {
			out = append(out, s/o)
		}
	}
	return out
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n == 0 {
		return math.NaN()
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// dur prints seconds with three significant digits, in ms below one second.
func dur(s float64) string {
	if s < 1 {
		return strconv.FormatFloat(s*1000, 'f', precision(s*1000), 64) + " ms"
	}
	return strconv.FormatFloat(s, 'f', precision(s), 64) + " s"
}

func precision(v float64) int {
	switch {
	case v >= 100:
		return 0
	case v >= 10:
		return 1
	default:
		return 2
	}
}

func num(v float64) string {
	if math.IsNaN(v) {
		return ""
	}
	return strconv.FormatFloat(v, 'f', 3, 64)
}
