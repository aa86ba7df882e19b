package testimage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

var fakeBinary = []byte("#!not really a program\n")

func TestLayerTar(t *testing.T) {
	raw, err := LayerTar(fakeBinary)
	if err != nil {
		t.Fatal(err)
	}
	type entry struct {
		name string
		typ  byte
		mode int64
		body string
	}
	want := []entry{
		{name: "probe", typ: tar.TypeReg, mode: 0o755, body: string(fakeBinary)},
		{name: "tmp/", typ: tar.TypeDir, mode: 0o1777},
	}
	tr := tar.NewReader(bytes.NewReader(raw))
	for i := 0; ; i++ {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			if i != len(want) {
				t.Fatalf("LayerTar has %d entries, want %d", i, len(want))
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if i >= len(want) {
			t.Fatalf("LayerTar has an extra entry %q", h.Name)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		w := want[i]
		t.Run(w.name, func(t *testing.T) {
			got := entry{name: h.Name, typ: h.Typeflag, mode: h.Mode, body: string(body)}
			if got != w {
				t.Errorf("entry %d = %+v, want %+v", i, got, w)
			}
			if !h.ModTime.Equal(Epoch) || h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" || len(h.PAXRecords) > 0 {
				t.Errorf("entry %q: mtime %v, owner %d:%d (%q:%q), pax %v; want 1970, 0:0, no names, no pax records",
					h.Name, h.ModTime, h.Uid, h.Gid, h.Uname, h.Gname, h.PAXRecords)
			}
			if h.Format != tar.FormatUSTAR {
				t.Errorf("entry %q format = %v, want USTAR", h.Name, h.Format)
			}
		})
	}
	if h, _ := tar.NewReader(bytes.NewReader(raw)).Next(); h.FileInfo().Mode().Perm() != 0o755 {
		t.Errorf("probe mode = %v, want 0755", h.FileInfo().Mode())
	}
}

func TestGzipHeaderIsFixed(t *testing.T) {
	gz, err := Gzip([]byte("some layer bytes"))
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	if zr.Name != "" || zr.Comment != "" || !zr.ModTime.IsZero() || zr.Extra != nil {
		t.Errorf("gzip header = name %q, comment %q, mtime %v, extra %q; want all empty", zr.Name, zr.Comment, zr.ModTime, zr.Extra)
	}
	// Bytes 4-7 are MTIME; byte 3 is FLG (no FNAME, FCOMMENT, FEXTRA).
	if !bytes.Equal(gz[3:8], []byte{0, 0, 0, 0, 0}) {
		t.Errorf("gzip header bytes 3-7 = %x, want zeros", gz[3:8])
	}
	body, err := io.ReadAll(zr)
	if err != nil || string(body) != "some layer bytes" {
		t.Errorf("gunzip = %q, %v; want %q", body, err, "some layer bytes")
	}
}

func TestImageFromBinaryIsDeterministic(t *testing.T) {
	amd64 := v1.Platform{OS: "linux", Architecture: "amd64"}
	arm64 := v1.Platform{OS: "linux", Architecture: "arm64"}
	build := func(p v1.Platform, bin []byte, goVersion string) v1.Hash {
		t.Helper()
		img, err := ImageFromBinary(p, bin, goVersion)
		if err != nil {
			t.Fatal(err)
		}
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	base := build(amd64, fakeBinary, "go1.0")
	tests := []struct {
		name string
		p    v1.Platform
		bin  []byte
		gov  string
		same bool
	}{
		{name: "same inputs", p: amd64, bin: fakeBinary, gov: "go1.0", same: true},
		{name: "other platform", p: arm64, bin: fakeBinary, gov: "go1.0"},
		{name: "other binary", p: amd64, bin: []byte("other"), gov: "go1.0"},
		{name: "other go version", p: amd64, bin: fakeBinary, gov: "go1.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := build(tt.p, tt.bin, tt.gov); (got == base) != tt.same {
				t.Errorf("ImageFromBinary(%s) digest = %s, base %s; want same = %v", tt.p, got, base, tt.same)
			}
		})
	}
}

func TestImageFromBinaryConfig(t *testing.T) {
	img, err := ImageFromBinary(v1.Platform{OS: "linux", Architecture: "arm64"}, fakeBinary, "go1.0")
	if err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.MediaType != types.OCIManifestSchema1 || m.Config.MediaType != types.OCIConfigJSON || len(m.Layers) != 1 || m.Layers[0].MediaType != types.OCILayer {
		t.Errorf("manifest media types = %s, config %s, %d layers; want OCI manifest, OCI config, one OCI gzip layer", m.MediaType, m.Config.MediaType, len(m.Layers))
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name string
		ok   bool
	}{
		{"os/arch", cf.OS == "linux" && cf.Architecture == "arm64"},
		{"entrypoint", len(cf.Config.Entrypoint) == 1 && cf.Config.Entrypoint[0] == "/probe"},
		{"cmd", strings.Join(cf.Config.Cmd, " ") == "echo hello from probe"},
		{"created", cf.Created.Equal(Epoch) && strings.Contains(string(raw), `"created":"1970-01-01T00:00:00Z"`)},
		{"history", len(cf.History) == 1 && cf.History[0].Created.Equal(Epoch) && cf.History[0].Comment == "built with go1.0"},
		{"diff_ids", len(cf.RootFS.DiffIDs) == 1 && cf.RootFS.Type == "layers"},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if !c.ok {
				t.Errorf("config %s is wrong: %s", c.name, raw)
			}
		})
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	diffID, err := layers[0].DiffID()
	if err != nil {
		t.Fatal(err)
	}
	tarBytes, err := LayerTar(fakeBinary)
	if err != nil {
		t.Fatal(err)
	}
	want, _, err := v1.SHA256(bytes.NewReader(tarBytes))
	if err != nil {
		t.Fatal(err)
	}
	if diffID != want || cf.RootFS.DiffIDs[0] != want {
		t.Errorf("diff_id = %s (config %s), want the uncompressed tar's %s", diffID, cf.RootFS.DiffIDs[0], want)
	}
}

func TestIndexOf(t *testing.T) {
	amd64 := v1.Platform{OS: "linux", Architecture: "amd64"}
	img, err := ImageFromBinary(amd64, fakeBinary, "go1.0")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		platforms []v1.Platform
		images    []v1.Image
		wantErr   bool
	}{
		{name: "one", platforms: []v1.Platform{amd64}, images: []v1.Image{img}},
		{name: "none", wantErr: true},
		{name: "count mismatch", platforms: []v1.Platform{amd64, amd64}, images: []v1.Image{img}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			idx, err := IndexOf(tt.platforms, tt.images)
			if (err != nil) != tt.wantErr {
				t.Fatalf("IndexOf() error = %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			raw, err := idx.RawManifest()
			if err != nil {
				t.Fatal(err)
			}
			d, err := img.Digest()
			if err != nil {
				t.Fatal(err)
			}
			size, err := img.Size()
			if err != nil {
				t.Fatal(err)
			}
			want := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":` +
				strconv.FormatInt(size, 10) + `,"digest":"` + d.String() + `","platform":{"architecture":"amd64","os":"linux"}}]}`
			if string(raw) != want {
				t.Errorf("IndexOf() manifest = %s, want %s", raw, want)
			}
			got, err := idx.Image(d)
			if err != nil || got != img {
				t.Errorf("Image(%s) = %v, %v; want the image", d, got, err)
			}
			if _, err := idx.Image(v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("0", 64)}); err == nil {
				t.Errorf("Image(unknown) error = nil, want an error")
			}
		})
	}
}

func TestCheckPlatform(t *testing.T) {
	tests := []struct {
		p       v1.Platform
		wantErr bool
	}{
		{p: v1.Platform{OS: "linux", Architecture: "amd64"}},
		{p: v1.Platform{OS: "linux", Architecture: "riscv64"}},
		{p: v1.Platform{OS: "windows", Architecture: "amd64"}, wantErr: true},
		{p: v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}, wantErr: true},
		{p: v1.Platform{OS: "linux"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.p.String(), func(t *testing.T) {
			if err := checkPlatform(tt.p); (err != nil) != tt.wantErr {
				t.Errorf("checkPlatform(%s) = %v, want error %v", tt.p, err, tt.wantErr)
			}
		})
	}
}
