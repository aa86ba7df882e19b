package release

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseVersion(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Version
		bad  bool
	}{
		{in: "1.2.3", want: Version{"1.2.3", "v1.2.3", "1.2.3"}},
		{in: "v0.10.0", want: Version{"0.10.0", "v0.10.0", "0.10.0"}},
		{in: "1.2.3-rc.1", want: Version{"1.2.3-rc.1", "v1.2.3-rc.1", "1.2.3rc1"}},
		{in: "v2.0.0-alpha.0", want: Version{"2.0.0-alpha.0", "v2.0.0-alpha.0", "2.0.0a0"}},
		{in: "2.0.0-beta.12", want: Version{"2.0.0-beta.12", "v2.0.0-beta.12", "2.0.0b12"}},
		{in: "1.2", bad: true},
		{in: "01.2.3", bad: true},
		{in: "1.2.3-rc1", bad: true},
		{in: "1.2.3-dev.1", bad: true},
		{in: "1.2.3+build", bad: true},
		{in: "1.2.3/../x", bad: true},
		{in: "", bad: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseVersion(tc.in)
			if tc.bad {
				if err == nil {
					t.Errorf("ParseVersion(%q) = %+v, want an error", tc.in, got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("ParseVersion(%q) = %+v, %v, want %+v", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestParsePyprojectOfThePlugin(t *testing.T) {
	data, err := os.ReadFile("../../python/pytest-vendorimg/pyproject.toml")
	if err != nil {
		t.Fatal(err)
	}
	pp, err := parsePyproject(data)
	if err != nil {
		t.Fatalf("parsePyproject(pytest-vendorimg) = %v", err)
	}
	if got := pp.one("project.name"); got != "pytest-vendorimg" {
		t.Errorf("project.name = %q, want pytest-vendorimg", got)
	}
	if got := pp.table("project.entry-points.pytest11"); !slices.Equal(got, [][2]string{{"vendorimg", "pytest_vendorimg.plugin"}}) {
		t.Errorf("project.entry-points.pytest11 = %q, want vendorimg = pytest_vendorimg.plugin", got)
	}
	if got := pp["project.dependencies"]; len(got) == 0 || !strings.HasPrefix(got[0], "pytest") {
		t.Errorf("project.dependencies = %q, want pytest first", got)
	}
}

func TestParsePyproject(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     pyproject
		err      string
	}{
		{
			name: "strings, arrays over lines, comments",
			in: "# top\n[project]\nname = \"p\" # comment\ndescription = 'a # b'\n" +
				"dependencies = [\n  \"x>=1\", # why\n  'y',\n]\n\n[project.urls]\nHome = \"https://h/#x\"\n",
			want: pyproject{"project.name": {"p"}, "project.description": {"a # b"},
				"project.dependencies": {"x>=1", "y"}, "project.urls.Home": {"https://h/#x"}},
		},
		{
			name: "escapes",
			in:   "[project]\nname = \"a\\\"b\\\\c\"\n",
			want: pyproject{"project.name": {"a\"b\\c"}},
		},
		{
			name: "other tables' other values are skipped",
			in:   "[tool.x]\nn = 3\nt = { a = 1 }\n[project]\nname = \"p\"\n",
			want: pyproject{"project.name": {"p"}},
		},
		{name: "inline table in project", in: "[project]\nlicense = { text = \"MIT\" }\n", err: "pyproject.toml:2: project.license"},
		{name: "number in project", in: "[project]\n\nn = 3\n", err: "pyproject.toml:3: project.n"},
		{name: "multi-line string", in: "[project]\nd = \"\"\"x\n\"\"\"\n", err: "multi-line strings"},
		{name: "array of tables", in: "[[project.authors]]\n", err: "unsupported table header"},
		{name: "no value", in: "[project]\nname\n", err: "want key = value"},
		{name: "unterminated", in: "[project]\nname = \"p\n", err: "unterminated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parsePyproject([]byte(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("parsePyproject(%q) = %v, %v, want an error with %q", tc.in, got, err, tc.err)
				}
				return
			}
			if err != nil || fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("parsePyproject(%q) = %v, %v, want %v", tc.in, got, err, tc.want)
			}
		})
	}
}

var testTime = time.Date(2026, 12, 7, 17, 28, 0, 0, time.UTC)

func TestTarGzIsAFunctionOfItsInput(t *testing.T) {
	files := []File{{Name: "vendorimg", Mode: 0o755, Data: []byte("binary")}, {Name: "README.md", Mode: 0o644, Data: []byte("# r\n")}}
	var a, b bytes.Buffer
	if err := writeTarGz(&a, "d", files, testTime); err != nil {
		t.Fatal(err)
	}
	if err := writeTarGz(&b, "d", files, testTime.In(time.FixedZone("x", 3600))); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Errorf("writeTarGz gave different bytes for the same files and instant")
	}
	gz, err := gzip.NewReader(bytes.NewReader(a.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if gz.Name != "" || !gz.ModTime.IsZero() {
		t.Errorf("gzip header name %q, time %v, want none", gz.Name, gz.ModTime)
	}
	tr := tar.NewReader(gz)
	var got []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !h.ModTime.Equal(testTime) || h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" {
			t.Errorf("entry %s: time %v, owner %d:%d %q:%q, want %v and 0:0 unnamed", h.Name, h.ModTime, h.Uid, h.Gid, h.Uname, h.Gname, testTime)
		}
		got = append(got, fmt.Sprintf("%s %o", h.Name, h.Mode))
	}
	if want := []string{"d/ 755", "d/vendorimg 755", "d/README.md 644"}; !slices.Equal(got, want) {
		t.Errorf("entries = %q, want %q", got, want)
	}
}

func TestWheelRecordAndModes(t *testing.T) {
	files := []File{{Name: "x-1.data/scripts/x", Mode: 0o755, Data: []byte("\x7fELF...")}, {Name: "x-1.dist-info/METADATA", Mode: 0o644, Data: []byte("Name: x\n")}}
	var buf bytes.Buffer
	if err := writeWheel(&buf, "x-1.dist-info", files, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	var record string
	for _, f := range zr.File {
		names = append(names, f.Name)
		if f.Modified.Year() != 1980 {
			t.Errorf("%s: time %v, want 1980 (the earliest a zip entry can have)", f.Name, f.Modified)
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(rc)
		rc.Close()
		if f.Name == "x-1.dist-info/RECORD" {
			record = string(data)
		}
		if want := map[string]os.FileMode{"x-1.data/scripts/x": 0o755}[f.Name]; want != 0 && f.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", f.Name, f.Mode(), want)
		}
	}
	var want strings.Builder
	for _, f := range files {
		sum := sha256.Sum256(f.Data)
		fmt.Fprintf(&want, "%s,sha256=%s,%d\n", f.Name, base64.RawURLEncoding.EncodeToString(sum[:]), len(f.Data))
	}
	want.WriteString("x-1.dist-info/RECORD,,\n")
	if record != want.String() {
		t.Errorf("RECORD = %q, want %q", record, want.String())
	}
	if !slices.Equal(names, []string{"x-1.data/scripts/x", "x-1.dist-info/METADATA", "x-1.dist-info/RECORD"}) {
		t.Errorf("entries = %q, want the files then RECORD", names)
	}
}

func TestPluginWheelFromItsSource(t *testing.T) {
	v, _ := ParseVersion("1.2.3-rc.1")
	whl, err := pluginWheel(v, filepath.Join("..", "..", "python", "pytest-vendorimg"), nil, testTime)
	if err != nil {
		t.Fatal(err)
	}
	if whl.Name != "pytest_vendorimg-1.2.3rc1-py3-none-any.whl" {
		t.Errorf("name = %s, want pytest_vendorimg-1.2.3rc1-py3-none-any.whl", whl.Name)
	}
	zr, err := zip.NewReader(bytes.NewReader(whl.Data), int64(len(whl.Data)))
	if err != nil {
		t.Fatal(err)
	}
	read := func(name string) string {
		for _, f := range zr.File {
			if f.Name == name {
				rc, _ := f.Open()
				defer rc.Close()
				data, _ := io.ReadAll(rc)
				return string(data)
			}
		}
		t.Errorf("%s has no %s", whl.Name, name)
		return ""
	}
	meta := read("pytest_vendorimg-1.2.3rc1.dist-info/METADATA")
	for _, want := range []string{"Name: pytest-vendorimg\n", "Version: 1.2.3rc1\n", "Requires-Dist: vendorimg==1.2.3rc1\n", "Requires-Dist: pytest"} {
		if !strings.Contains(meta, want) {
			t.Errorf("METADATA lacks %q:\n%s", want, meta)
		}
	}
	if got := read("pytest_vendorimg-1.2.3rc1.dist-info/entry_points.txt"); got != "[pytest11]\nvendorimg = pytest_vendorimg.plugin\n\n" {
		t.Errorf("entry_points.txt = %q", got)
	}
	read("pytest_vendorimg/plugin.py")
	if got := read("pytest_vendorimg-1.2.3rc1.dist-info/WHEEL"); !strings.Contains(got, "Root-Is-Purelib: true\nTag: py3-none-any\n") {
		t.Errorf("WHEEL = %q", got)
	}
}

func TestNormalizeDist(t *testing.T) {
	for in, want := range map[string]string{"pytest-vendorimg": "pytest_vendorimg", "A.b__C": "a_b_c", "vendorimg": "vendorimg"} {
		if got := normalizeDist(in); got != want {
			t.Errorf("normalizeDist(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestGitStateIgnoresTheOutputFolder(t *testing.T) {
	dir := t.TempDir()
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	git("init", "-q")
	if err := os.WriteFile(filepath.Join(dir, "a"), []byte("a"), 0o644); err != nil {
		t.Fatal(err)
	}
	git("add", "a")
	git("commit", "-q", "-m", "a", "--date=2026-12-07T17:28:00Z")
	out := filepath.Join(dir, "out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "SHA256SUMS"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	clean, when, err := GitState(context.Background(), dir, out)
	if err != nil || strings.HasSuffix(clean, "-dirty") || len(clean) != 40 {
		t.Errorf("GitState with the output folder excluded = %q, %v, want a clean commit", clean, err)
	}
	if when.IsZero() {
		t.Errorf("GitState time = %v, want the commit's", when)
	}
	dirty, _, err := GitState(context.Background(), dir)
	if err != nil || dirty != clean+"-dirty" {
		t.Errorf("GitState with an untracked file = %q, %v, want %s-dirty", dirty, err, clean)
	}
}
