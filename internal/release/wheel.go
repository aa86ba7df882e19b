package release

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Wheel is a wheel's file name and bytes.
type Wheel struct {
	Name string
	Data []byte
}

// binaryDist is the name of the distribution that carries the binary.
const binaryDist = "vendorimg"

// binarySummary is its one-line description.
const binarySummary = "The vendorimg command: vendor pinned container images into an OCI layout in git, load them into engines offline, and prove they were not changed"

// projectURL is the home of both distributions.
const projectURL = "https://github.com/vendorimg/vendorimg"

// binaryWheel is the wheel of the vendorimg distribution for p: the
// binaries as scripts (pip and uv put them in the environment's bin
// folder, keeping their execute bit: vendorimg finds vendorimg-sigverify
// there, beside itself), the README as its description, and the licence
// when there is one. It has no Python code at all, so it needs no
// particular Python: its tag is py3-none-PLATFORM.
func binaryWheel(v Version, p Platform, bin binaries, readme, licence []byte, mtime time.Time) (Wheel, error) {
	plats, err := wheelPlatforms(p, bin.vendorimg)
	if err != nil {
		return Wheel{}, err
	}
	stem := binaryDist + "-" + v.Python
	distInfo := stem + ".dist-info"
	var tags []string
	for _, pl := range plats {
		tags = append(tags, "py3-none-"+pl)
	}
	meta := metadata{
		{"Metadata-Version", "2.1"},
		{"Name", binaryDist},
		{"Version", v.Python},
		{"Summary", binarySummary},
		{"Home-page", projectURL},
		{"Project-URL", "Source, " + projectURL},
		{"Keywords", "docker,oci,vendoring,testing"},
		{"Classifier", "Environment :: Console"},
		{"Classifier", osClassifier(p)},
		{"Classifier", "Topic :: Software Development :: Testing"},
	}
	files := []File{
		{Name: stem + ".data/scripts/vendorimg", Mode: 0o755, Data: bin.vendorimg},
		{Name: stem + ".data/scripts/" + Sigverify, Mode: 0o755, Data: bin.sigverify},
	}
	if licence != nil {
		meta = append(meta, [2]string{"License-File", "LICENSE"})
		files = append(files, File{Name: distInfo + "/LICENSE", Mode: 0o644, Data: licence})
	}
	meta = append(meta, [2]string{"Description-Content-Type", "text/markdown"})
	files = append(files,
		File{Name: distInfo + "/METADATA", Mode: 0o644, Data: meta.bytes(readme)},
		File{Name: distInfo + "/WHEEL", Mode: 0o644, Data: wheelFile(false, tags)},
	)
	name := stem + "-py3-none-" + strings.Join(plats, ".") + ".whl"
	return packWheel(name, distInfo, files, mtime)
}

// pluginWheel is the wheel of pytest-vendorimg from its source folder
// (python/pytest-vendorimg): the package under src/, the metadata of its
// pyproject.toml with the version of the release, and one more
// dependency, on the vendorimg distribution of exactly this version, which
// brings the binary. The source's own pyproject.toml does not name that
// dependency: an install from the checkout uses the vendorimg the
// developer built, and pip could not find the distribution offline.
func pluginWheel(v Version, dir string, licence []byte, mtime time.Time) (Wheel, error) {
	data, err := os.ReadFile(filepath.Join(dir, "pyproject.toml"))
	if err != nil {
		return Wheel{}, err
	}
	pp, err := parsePyproject(data)
	if err != nil {
		return Wheel{}, fmt.Errorf("%s: %w", dir, err)
	}
	name := pp.one("project.name")
	if name == "" {
		return Wheel{}, fmt.Errorf("%s/pyproject.toml: no [project] name", dir)
	}
	norm := normalizeDist(name)
	stem := norm + "-" + v.Python
	distInfo := stem + ".dist-info"
	meta := metadata{{"Metadata-Version", "2.1"}, {"Name", name}, {"Version", v.Python}}
	if s := pp.one("project.description"); s != "" {
		meta = append(meta, [2]string{"Summary", s})
	}
	if kw := pp["project.keywords"]; len(kw) > 0 {
		meta = append(meta, [2]string{"Keywords", strings.Join(kw, ",")})
	}
	for _, u := range pp.table("project.urls") {
		meta = append(meta, [2]string{"Project-URL", u[0] + ", " + u[1]})
	}
	for _, c := range pp["project.classifiers"] {
		meta = append(meta, [2]string{"Classifier", c})
	}
	if s := pp.one("project.requires-python"); s != "" {
		meta = append(meta, [2]string{"Requires-Python", s})
	}
	for _, d := range pp["project.dependencies"] {
		meta = append(meta, [2]string{"Requires-Dist", d})
	}
	meta = append(meta, [2]string{"Requires-Dist", binaryDist + "==" + v.Python})

	var files []File
	src := filepath.Join(dir, "src")
	err = filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && (d.Name() == "__pycache__" || strings.HasSuffix(d.Name(), ".egg-info")):
			return filepath.SkipDir
		case d.IsDir() || !strings.HasSuffix(d.Name(), ".py"):
			return nil
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files = append(files, File{Name: filepath.ToSlash(rel), Mode: 0o644, Data: data})
		return nil
	})
	if err != nil {
		return Wheel{}, fmt.Errorf("reading %s: %w", src, err)
	}
	if len(files) == 0 {
		return Wheel{}, fmt.Errorf("%s: no Python files", src)
	}
	slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Name, b.Name) })

	if licence != nil {
		meta = append(meta, [2]string{"License-File", "LICENSE"})
		files = append(files, File{Name: distInfo + "/LICENSE", Mode: 0o644, Data: licence})
	}
	var readme []byte
	if r := pp.one("project.readme"); r != "" {
		if readme, err = os.ReadFile(filepath.Join(dir, r)); err != nil {
			return Wheel{}, err
		}
		meta = append(meta, [2]string{"Description-Content-Type", "text/markdown"})
	}
	var eps bytes.Buffer
	for _, group := range entryPointGroups(pp) {
		fmt.Fprintf(&eps, "[%s]\n", group)
		for _, e := range pp.table("project.entry-points." + group) {
			fmt.Fprintf(&eps, "%s = %s\n", e[0], e[1])
		}
		eps.WriteString("\n")
	}
	files = append(files, File{Name: distInfo + "/METADATA", Mode: 0o644, Data: meta.bytes(readme)})
	if eps.Len() > 0 {
		files = append(files, File{Name: distInfo + "/entry_points.txt", Mode: 0o644, Data: eps.Bytes()})
	}
	files = append(files, File{Name: distInfo + "/WHEEL", Mode: 0o644, Data: wheelFile(true, []string{"py3-none-any"})})
	return packWheel(stem+"-py3-none-any.whl", distInfo, files, mtime)
}

// entryPointGroups is the groups of [project.entry-points.GROUP], sorted.
func entryPointGroups(pp pyproject) []string {
	var out []string
	for k := range pp {
		rest, ok := strings.CutPrefix(k, "project.entry-points.")
		if !ok {
			continue
		}
		group, _, _ := strings.Cut(rest, ".")
		if !slices.Contains(out, group) {
			out = append(out, group)
		}
	}
	slices.Sort(out)
	return out
}

func packWheel(name, distInfo string, files []File, mtime time.Time) (Wheel, error) {
	var buf bytes.Buffer
	if err := writeWheel(&buf, distInfo, files, mtime); err != nil {
		return Wheel{}, fmt.Errorf("writing %s: %w", name, err)
	}
	return Wheel{Name: name, Data: buf.Bytes()}, nil
}

// metadata is core metadata's header fields, in order.
type metadata [][2]string

// bytes is the METADATA file: the fields, then the description.
func (m metadata) bytes(description []byte) []byte {
	var b bytes.Buffer
	for _, f := range m {
		fmt.Fprintf(&b, "%s: %s\n", f[0], f[1])
	}
	if description != nil {
		b.WriteString("\n")
		b.Write(description)
	}
	return b.Bytes()
}

// wheelFile is a wheel's WHEEL file.
func wheelFile(purelib bool, tags []string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "Wheel-Version: 1.0\nGenerator: vendorimg scripts/release\nRoot-Is-Purelib: %t\n", purelib)
	for _, t := range tags {
		fmt.Fprintf(&b, "Tag: %s\n", t)
	}
	return b.Bytes()
}

// normalizeDist is a distribution name as wheel file names spell it
// (PEP 427 and the binary distribution format's escaping): runs of "-",
// "_" and "." become one "_", lowercase.
func normalizeDist(name string) string {
	var b strings.Builder
	sep := false
	for _, r := range strings.ToLower(name) {
		if r == '-' || r == '_' || r == '.' {
			sep = true
			continue
		}
		if sep {
			b.WriteByte('_')
			sep = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

func osClassifier(p Platform) string {
	if p.OS == "darwin" {
		return "Operating System :: MacOS"
	}
	return "Operating System :: POSIX :: Linux"
}
