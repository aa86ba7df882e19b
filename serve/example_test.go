package serve_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/vendorimg/vendorimg/layout"
	"github.com/vendorimg/vendorimg/serve"
)

// New serves a layout as a read-only registry; here the repository's own
// vendored image, which answers under its name with and without its host.
func ExampleNew() {
	ctx := context.Background()
	l := layout.New("../testdata/images")
	// A program that serves for long holds the layout's shared lock, so
	// that no sync changes it meanwhile (Run does).
	lock, err := l.Lock(ctx, false, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer lock.Unlock()
	h, err := serve.New(ctx, l, serve.Options{})
	if err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	for _, im := range h.Images() {
		fmt.Println(im.Name, im.Repositories, im.Platforms)
	}
	resp, err := http.Get(srv.URL + "/v2/probe/tags/list")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(string(body))
	// Output:
	// registry.vendorimg.test/probe:1 [registry.vendorimg.test/probe probe] [linux/amd64 linux/arm64]
	// {"name":"probe","tags":["1"]}
}
