package manifest_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/vendorimg/vendorimg/errs"
	"github.com/vendorimg/vendorimg/manifest"
)

// Digests from DESIGN.md's alpine:3.19.1, used only as well-formed values.
const (
	manifestDigest = "sha256:6457d53fb065d6f250e1504b9bc42d5b6c65941d57532c072d929dd0628977d0"
	configDigest   = "sha256:05455a08881ea9cf0e752bc48e61bbd71a34c029bb13df01e40e3e70e0d007bd"
	layerDigest    = "sha256:4abcf20661432fb2d719aaf90656f55c287f8ca915dc1c92ec14ff61e67fbaf8"
)

// desc is a descriptor as JSON, for building documents by hand.
func desc(mediaType, dgst string, size int64, extra string) string {
	s := fmt.Sprintf(`{"mediaType":%q,"digest":%q,"size":%d`, mediaType, dgst, size)
	if extra != "" {
		s += "," + extra
	}
	return s + "}"
}

var (
	ociManifestEntry    = desc(manifest.MediaTypeOCIManifest, manifestDigest, 1000, `"platform":{"os":"linux","architecture":"amd64"}`)
	dockerManifestEntry = desc(manifest.MediaTypeDockerV2, manifestDigest, 528, `"platform":{"os":"linux","architecture":"arm","variant":"v7"}`)
	ociConfig           = desc(ocispec.MediaTypeImageConfig, configDigest, 581, "")
	ociLayer            = desc(ocispec.MediaTypeImageLayerGzip, layerDigest, 3408729, "")
	dockerConfig        = desc(manifest.MediaTypeDockerConfig, configDigest, 581, "")
	dockerLayer         = desc(manifest.MediaTypeDockerLayer, layerDigest, 3408729, "")

	ociIndex       = `{"schemaVersion":2,"mediaType":"` + manifest.MediaTypeOCIIndex + `","manifests":[` + ociManifestEntry + `]}`
	ociManifest    = `{"schemaVersion":2,"mediaType":"` + manifest.MediaTypeOCIManifest + `","config":` + ociConfig + `,"layers":[` + ociLayer + `]}`
	dockerList     = `{"schemaVersion":2,"mediaType":"` + manifest.MediaTypeDockerList + `","manifests":[` + dockerManifestEntry + `,` + ociManifestEntry + `]}`
	dockerV2       = `{"schemaVersion":2,"mediaType":"` + manifest.MediaTypeDockerV2 + `","config":` + dockerConfig + `,"layers":[` + dockerLayer + `]}`
	bareIndex      = `{"schemaVersion":2,"manifests":[` + ociManifestEntry + `]}`
	bareManifest   = `{"schemaVersion":2,"config":` + ociConfig + `,"layers":[` + ociLayer + `]}`
	emptyIndex     = `{"schemaVersion":2,"mediaType":"` + manifest.MediaTypeOCIIndex + `","manifests":[]}`
	artifactConfig = `{"schemaVersion":2,"mediaType":"` + manifest.MediaTypeOCIManifest + `","config":` + desc("application/vnd.example.config+json", configDigest, 2, "") + `,"layers":[]}`
)

func TestParse(t *testing.T) {
	tests := []struct {
		name          string
		hint          string
		raw           string
		wantType      string
		wantManifests int
		wantLayers    int
	}{
		{"oci index", "", ociIndex, manifest.MediaTypeOCIIndex, 1, 0},
		{"oci index with hint", manifest.MediaTypeOCIIndex, ociIndex, manifest.MediaTypeOCIIndex, 1, 0},
		{"oci manifest", "", ociManifest, manifest.MediaTypeOCIManifest, 0, 1},
		{"oci manifest with hint", manifest.MediaTypeOCIManifest, ociManifest, manifest.MediaTypeOCIManifest, 0, 1},
		{"docker list", manifest.MediaTypeDockerList, dockerList, manifest.MediaTypeDockerList, 2, 0},
		{"docker v2", manifest.MediaTypeDockerV2, dockerV2, manifest.MediaTypeDockerV2, 0, 1},
		{"bare index by hint", manifest.MediaTypeOCIIndex, bareIndex, manifest.MediaTypeOCIIndex, 1, 0},
		{"bare index by shape", "", bareIndex, manifest.MediaTypeOCIIndex, 1, 0},
		{"bare manifest by hint", manifest.MediaTypeOCIManifest, bareManifest, manifest.MediaTypeOCIManifest, 0, 1},
		{"bare manifest by shape", "", bareManifest, manifest.MediaTypeOCIManifest, 0, 1},
		{"unhelpful hint ignored", "application/json", ociManifest, manifest.MediaTypeOCIManifest, 0, 1},
		{"unhelpful hint and shape", "text/plain", bareIndex, manifest.MediaTypeOCIIndex, 1, 0},
		{"empty index", "", emptyIndex, manifest.MediaTypeOCIIndex, 0, 0},
		{"artifact config", "", artifactConfig, manifest.MediaTypeOCIManifest, 0, 0},
		{"unknown fields", "", `{"schemaVersion":2,"annotations":{"a":"b"},"subject":` + ociConfig + `,"manifests":[]}`, manifest.MediaTypeOCIIndex, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := manifest.Parse(tt.hint, []byte(tt.raw))
			if err != nil {
				t.Fatalf("Parse(%q, %s) = %v, want nil", tt.hint, tt.name, err)
			}
			if n.MediaType != tt.wantType {
				t.Errorf("Parse(%q, %s).MediaType = %q, want %q", tt.hint, tt.name, n.MediaType, tt.wantType)
			}
			if len(n.Manifests) != tt.wantManifests || len(n.Layers) != tt.wantLayers {
				t.Errorf("Parse(%q, %s) has %d manifests and %d layers, want %d and %d", tt.hint, tt.name, len(n.Manifests), len(n.Layers), tt.wantManifests, tt.wantLayers)
			}
			if n.IsIndex() != manifest.IsIndex(tt.wantType) {
				t.Errorf("Parse(%q, %s).IsIndex() = %v, want %v", tt.hint, tt.name, n.IsIndex(), manifest.IsIndex(tt.wantType))
			}
			blobs := n.Blobs()
			if n.IsIndex() {
				if blobs != nil {
					t.Errorf("Parse(%q, %s).Blobs() = %v, want nil for an index", tt.hint, tt.name, blobs)
				}
				return
			}
			if len(blobs) != 1+tt.wantLayers || blobs[0].Digest != configDigest {
				t.Errorf("Parse(%q, %s).Blobs() = %v, want the config then %d layers", tt.hint, tt.name, blobs, tt.wantLayers)
			}
		})
	}
}

func TestParseKeepsOrderAndPlatforms(t *testing.T) {
	n, err := manifest.Parse(manifest.MediaTypeDockerList, []byte(dockerList))
	if err != nil {
		t.Fatal(err)
	}
	want := []ocispec.Platform{{OS: "linux", Architecture: "arm", Variant: "v7"}, {OS: "linux", Architecture: "amd64"}}
	for i, d := range n.Manifests {
		if d.Platform == nil || d.Platform.OS != want[i].OS || d.Platform.Architecture != want[i].Architecture || d.Platform.Variant != want[i].Variant {
			t.Errorf("Parse(docker list).Manifests[%d].Platform = %+v, want %+v", i, d.Platform, want[i])
		}
	}
}

func TestParseErrors(t *testing.T) {
	hostile := func(d string) string {
		return `{"schemaVersion":2,"mediaType":"` + manifest.MediaTypeOCIIndex + `","manifests":[` + d + `]}`
	}
	withLayer := func(d string) string {
		return `{"schemaVersion":2,"mediaType":"` + manifest.MediaTypeOCIManifest + `","config":` + ociConfig + `,"layers":[` + d + `]}`
	}
	withConfig := func(d string) string {
		return `{"schemaVersion":2,"mediaType":"` + manifest.MediaTypeOCIManifest + `","config":` + d + `,"layers":[]}`
	}
	tests := []struct {
		name    string
		hint    string
		raw     string
		wantErr error // nil: any error
		wantIn  string
	}{
		{"not json", "", `{"schemaVersion":`, nil, "parsing manifest"},
		{"json array", "", `[]`, nil, "parsing manifest"},
		{"null", "", `null`, errs.ErrUnsupportedMediaType, `media type ""`},
		{"empty object", "", `{}`, errs.ErrUnsupportedMediaType, `media type ""`},
		{"oversize", "", `{"schemaVersion":2,"manifests":[]}` + strings.Repeat(" ", manifest.MaxManifestSize), errs.ErrTooLarge, "limit 4194304"},
		{"disagreeing hint", manifest.MediaTypeDockerV2, ociManifest, errs.ErrUnsupportedMediaType, "was given as"},
		{"disagreeing hint index", manifest.MediaTypeOCIIndex, dockerList, errs.ErrUnsupportedMediaType, "was given as"},
		{"schema1 media type", "", `{"schemaVersion":1,"mediaType":"` + manifest.MediaTypeDockerSchema1 + `","fsLayers":[]}`, errs.ErrUnsupportedMediaType, "schema 1"},
		{"schema1 hint", manifest.MediaTypeDockerSigned, `{"schemaVersion":1,"name":"x","tag":"y","fsLayers":[],"signatures":[]}`, errs.ErrUnsupportedMediaType, "schema 1"},
		{"schema1 without media type", "", `{"schemaVersion":1,"name":"x","tag":"y","fsLayers":[]}`, errs.ErrUnsupportedMediaType, "schema 1"},
		{"schemaVersion 1 with v2 media type", "", `{"schemaVersion":1,"mediaType":"` + manifest.MediaTypeDockerV2 + `","config":` + dockerConfig + `}`, errs.ErrUnsupportedMediaType, "schema 1"},
		{"artifact media type", "", `{"schemaVersion":2,"mediaType":"application/vnd.example+json","config":` + ociConfig + `}`, errs.ErrUnsupportedMediaType, `"application/vnd.example+json"`},
		{"no schemaVersion", "", `{"mediaType":"` + manifest.MediaTypeOCIIndex + `","manifests":[]}`, nil, "schemaVersion must be 2"},
		{"schemaVersion 3", "", `{"schemaVersion":3,"manifests":[]}`, nil, "schemaVersion must be 2"},
		{"schemaVersion string", "", `{"schemaVersion":"2","manifests":[]}`, nil, "parsing manifest"},
		{"index with config", "", `{"schemaVersion":2,"mediaType":"` + manifest.MediaTypeOCIIndex + `","manifests":[],"config":` + ociConfig + `}`, nil, "no config or layers"},
		{"index with layers", "", `{"schemaVersion":2,"mediaType":"` + manifest.MediaTypeOCIIndex + `","manifests":[],"layers":[]}`, nil, "no config or layers"},
		{"manifest without config", "", `{"schemaVersion":2,"mediaType":"` + manifest.MediaTypeOCIManifest + `","layers":[]}`, nil, "no config"},
		{"manifest with manifests", "", `{"schemaVersion":2,"mediaType":"` + manifest.MediaTypeOCIManifest + `","config":` + ociConfig + `,"manifests":[]}`, nil, "no manifests list"},
		{"traversal digest in index", "", hostile(desc(manifest.MediaTypeOCIManifest, "sha256:../../etc/passwd", 10, "")), errs.ErrInvalidDigest, "manifests[0]"},
		{"traversal digest in layer", "", withLayer(desc(ocispec.MediaTypeImageLayerGzip, "sha256:../../../etc/passwd", 10, "")), errs.ErrInvalidDigest, "layers[0]"},
		{"traversal digest in config", "", withConfig(desc(ocispec.MediaTypeImageConfig, "sha256:/etc/passwd", 10, "")), errs.ErrInvalidDigest, "config"},
		{"sha512 digest", "", hostile(desc(manifest.MediaTypeOCIManifest, "sha512:"+strings.Repeat("a", 128), 10, "")), errs.ErrInvalidDigest, "manifests[0]"},
		{"short digest", "", withLayer(desc(ocispec.MediaTypeImageLayerGzip, "sha256:abc", 10, "")), errs.ErrInvalidDigest, "layers[0]"},
		{"uppercase digest", "", withLayer(desc(ocispec.MediaTypeImageLayerGzip, strings.ToUpper(layerDigest), 10, "")), errs.ErrInvalidDigest, "layers[0]"},
		{"empty digest", "", withConfig(desc(ocispec.MediaTypeImageConfig, "", 10, "")), errs.ErrInvalidDigest, "config"},
		{"negative size in index", "", hostile(desc(manifest.MediaTypeOCIManifest, manifestDigest, -1, "")), errs.ErrSizeMismatch, "negative size -1"},
		{"negative size in layer", "", withLayer(desc(ocispec.MediaTypeImageLayerGzip, layerDigest, -5, "")), errs.ErrSizeMismatch, "negative size -5"},
		{"missing media type in index", "", hostile(desc("", manifestDigest, 10, "")), nil, "no mediaType"},
		{"missing media type in config", "", withConfig(desc("", configDigest, 10, "")), nil, "no mediaType"},
		{"size not a number", "", hostile(`{"mediaType":"x","digest":"` + manifestDigest + `","size":"10"}`), nil, "parsing manifest"},
		{"size overflows", "", hostile(`{"mediaType":"x","digest":"` + manifestDigest + `","size":99999999999999999999}`), nil, "parsing manifest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := manifest.Parse(tt.hint, []byte(tt.raw))
			if err == nil {
				t.Fatalf("Parse(%q, %s) = %+v, nil, want an error", tt.hint, tt.name, n)
			}
			if n != nil {
				t.Errorf("Parse(%q, %s) = %+v with an error, want nil", tt.hint, tt.name, n)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("Parse(%q, %s) = %v, want an error wrapping %v", tt.hint, tt.name, err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantIn) {
				t.Errorf("Parse(%q, %s) = %v, want it to contain %q", tt.hint, tt.name, err, tt.wantIn)
			}
		})
	}
}

func TestCheckDescriptor(t *testing.T) {
	tests := []struct {
		name    string
		d       ocispec.Descriptor
		wantErr error // nil with ok false: any error
		ok      bool
	}{
		{"ok", ocispec.Descriptor{MediaType: "x", Digest: layerDigest, Size: 1}, nil, true},
		{"zero size", ocispec.Descriptor{MediaType: "x", Digest: layerDigest}, nil, true},
		{"traversal", ocispec.Descriptor{MediaType: "x", Digest: "sha256:../../etc/passwd", Size: 1}, errs.ErrInvalidDigest, false},
		{"no algorithm", ocispec.Descriptor{MediaType: "x", Digest: digest.Digest(layerDigest[7:]), Size: 1}, errs.ErrInvalidDigest, false},
		{"sha384", ocispec.Descriptor{MediaType: "x", Digest: digest.Digest("sha384:" + strings.Repeat("a", 96)), Size: 1}, errs.ErrInvalidDigest, false},
		{"negative", ocispec.Descriptor{MediaType: "x", Digest: layerDigest, Size: -1}, errs.ErrSizeMismatch, false},
		{"no media type", ocispec.Descriptor{Digest: layerDigest, Size: 1}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := manifest.CheckDescriptor(tt.d)
			switch {
			case tt.ok && err != nil:
				t.Errorf("CheckDescriptor(%+v) = %v, want nil", tt.d, err)
			case !tt.ok && err == nil:
				t.Errorf("CheckDescriptor(%+v) = nil, want an error", tt.d)
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Errorf("CheckDescriptor(%+v) = %v, want an error wrapping %v", tt.d, err, tt.wantErr)
			}
		})
	}
}

func TestMediaTypePredicates(t *testing.T) {
	tests := []struct {
		mediaType                                  string
		index, manifest, walkable, imageConfigType bool
	}{
		{manifest.MediaTypeOCIIndex, true, false, true, false},
		{manifest.MediaTypeDockerList, true, false, true, false},
		{manifest.MediaTypeOCIManifest, false, true, true, false},
		{manifest.MediaTypeDockerV2, false, true, true, false},
		{manifest.MediaTypeDockerSchema1, false, false, false, false},
		{manifest.MediaTypeDockerSigned, false, false, false, false},
		{ocispec.MediaTypeImageConfig, false, false, false, true},
		{manifest.MediaTypeDockerConfig, false, false, false, true},
		{manifest.MediaTypeDockerLayer, false, false, false, false},
		{"application/json", false, false, false, false},
		{"", false, false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.mediaType, func(t *testing.T) {
			if got := manifest.IsIndex(tt.mediaType); got != tt.index {
				t.Errorf("IsIndex(%q) = %v, want %v", tt.mediaType, got, tt.index)
			}
			if got := manifest.IsManifest(tt.mediaType); got != tt.manifest {
				t.Errorf("IsManifest(%q) = %v, want %v", tt.mediaType, got, tt.manifest)
			}
			if got := manifest.IsWalkable(tt.mediaType); got != tt.walkable {
				t.Errorf("IsWalkable(%q) = %v, want %v", tt.mediaType, got, tt.walkable)
			}
			if got := manifest.IsImageConfig(tt.mediaType); got != tt.imageConfigType {
				t.Errorf("IsImageConfig(%q) = %v, want %v", tt.mediaType, got, tt.imageConfigType)
			}
		})
	}
	for _, mt := range manifest.Accept {
		if !manifest.IsWalkable(mt) {
			t.Errorf("IsWalkable(%q) = false for a type in Accept, want true", mt)
		}
	}
}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name     string
		raw      string
		want     ocispec.Platform
		diffIDs  int
		wantErr  error // nil with ok false: any error
		ok       bool
		wantType string
	}{
		{"linux amd64", `{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["` + layerDigest + `"]}}`,
			ocispec.Platform{OS: "linux", Architecture: "amd64"}, 1, nil, true, "layers"},
		{"arm v7 with os version", `{"architecture":"arm","variant":"v7","os":"linux","os.version":"5.1","rootfs":{"type":"layers","diff_ids":[]}}`,
			ocispec.Platform{OS: "linux", Architecture: "arm", Variant: "v7", OSVersion: "5.1"}, 0, nil, true, "layers"},
		{"extra fields", `{"architecture":"arm64","os":"linux","config":{"Env":["A=b"]},"history":[{}],"rootfs":{"type":"layers","diff_ids":["` + layerDigest + `","` + configDigest + `"]}}`,
			ocispec.Platform{OS: "linux", Architecture: "arm64"}, 2, nil, true, "layers"},
		{"empty object", `{}`, ocispec.Platform{}, 0, nil, true, ""},
		{"not json", `{"os":`, ocispec.Platform{}, 0, nil, false, ""},
		{"wrong type", `{"os":1}`, ocispec.Platform{}, 0, nil, false, ""},
		{"oversize", `{"os":"linux"}` + strings.Repeat(" ", manifest.MaxConfigSize), ocispec.Platform{}, 0, errs.ErrTooLarge, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := manifest.ParseConfig([]byte(tt.raw))
			if !tt.ok {
				if err == nil || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) {
					t.Fatalf("ParseConfig(%s) = %+v, %v, want an error wrapping %v", tt.name, c, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseConfig(%s) = %v, want nil", tt.name, err)
			}
			if p := c.Platform(); p.OS != tt.want.OS || p.Architecture != tt.want.Architecture || p.Variant != tt.want.Variant || p.OSVersion != tt.want.OSVersion {
				t.Errorf("ParseConfig(%s).Platform() = %+v, want %+v", tt.name, p, tt.want)
			}
			if len(c.RootFS.DiffIDs) != tt.diffIDs || c.RootFS.Type != tt.wantType {
				t.Errorf("ParseConfig(%s).RootFS = %+v, want type %q and %d diff_ids", tt.name, c.RootFS, tt.wantType, tt.diffIDs)
			}
		})
	}
}

func ExampleParse() {
	raw := []byte(`{
  "schemaVersion": 2,
  "mediaType": "application/vnd.oci.image.index.v1+json",
  "manifests": [
    {
      "mediaType": "application/vnd.oci.image.manifest.v1+json",
      "digest": "sha256:6457d53fb065d6f250e1504b9bc42d5b6c65941d57532c072d929dd0628977d0",
      "size": 528,
      "platform": {"architecture": "amd64", "os": "linux"}
    }
  ]
}`)
	n, err := manifest.Parse("", raw)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(n.MediaType, n.IsIndex())
	for _, d := range n.Manifests {
		fmt.Println(d.Platform.OS+"/"+d.Platform.Architecture, d.Digest)
	}
	// Output:
	// application/vnd.oci.image.index.v1+json true
	// linux/amd64 sha256:6457d53fb065d6f250e1504b9bc42d5b6c65941d57532c072d929dd0628977d0
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{ociIndex, ociManifest, dockerList, dockerV2, bareIndex, bareManifest, emptyIndex, artifactConfig, `{}`, `null`, `{"schemaVersion":1}`} {
		f.Add("", []byte(s))
	}
	// A digest without a colon once made go-digest panic inside CheckDigest.
	f.Add("", []byte(`{"schemaVersion":2,"manifests":[{"mediaType":"x","digest":"abc","size":1}]}`))
	f.Add(manifest.MediaTypeDockerList, []byte(dockerList))
	f.Add(manifest.MediaTypeOCIManifest, []byte(bareManifest))
	f.Fuzz(func(t *testing.T, hint string, raw []byte) {
		n, err := manifest.Parse(hint, raw)
		if err != nil {
			if n != nil {
				t.Fatalf("Parse(%q, %q) = %+v, %v, want nil with an error", hint, raw, n, err)
			}
			return
		}
		if !manifest.IsWalkable(n.MediaType) {
			t.Fatalf("Parse(%q, %q).MediaType = %q, want a walkable type", hint, raw, n.MediaType)
		}
		if manifest.IsWalkable(hint) && n.MediaType != hint {
			t.Fatalf("Parse(%q, %q).MediaType = %q, want the hint", hint, raw, n.MediaType)
		}
		// Everything Parse returns must be safe to act on: digests that can
		// become paths, sizes that are not negative.
		for _, d := range append(n.Manifests, n.Blobs()...) {
			if err := manifest.CheckDescriptor(d); err != nil {
				t.Fatalf("Parse(%q, %q) returned descriptor %+v: CheckDescriptor = %v, want nil", hint, raw, d, err)
			}
		}
		// Parsing is a function of the bytes: re-encoding what was read and
		// parsing again gives the same children.
		var doc map[string]json.RawMessage
		if json.Unmarshal(raw, &doc) != nil {
			t.Fatalf("Parse(%q, %q) accepted bytes encoding/json cannot read as an object", hint, raw)
		}
		again, err := manifest.Parse(n.MediaType, raw)
		if err != nil || again.MediaType != n.MediaType || len(again.Manifests) != len(n.Manifests) || len(again.Layers) != len(n.Layers) {
			t.Fatalf("Parse(%q, %q) = %+v, %v, want %+v", n.MediaType, raw, again, err, n)
		}
	})
}

func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{
		`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["` + layerDigest + `"]}}`,
		`{}`, `null`, `[]`, `{"os":1}`, `{"rootfs":{"diff_ids":[1]}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		c, err := manifest.ParseConfig(raw)
		if err != nil {
			return
		}
		_ = c.Platform()
		if !bytes.Contains(raw, []byte("{")) && !bytes.Contains(raw, []byte("null")) {
			t.Fatalf("ParseConfig(%q) = %+v, nil, want an error for input that is no object", raw, c)
		}
	})
}
