// Package tcimages makes testcontainers-go (github.com/testcontainers/testcontainers-go,
// v0.45) run containers from vendored images, offline.
//
// A test names its image as it would upstream, in any form: short
// ("alpine:3.19.1"), full ("docker.io/library/alpine:3.19.1") or pinned
// ("alpine:3.19.1@sha256:c5b1..."). A [Substitutor], given to the
// request's ImageSubstitutors, maps each form of a vendored image to the
// tag that "vendorimg load" (or daemon.Load) gives it in docker, and
// refuses every image vendorimg.yaml does not vendor.
//
// # Use
//
// The images are loaded into docker before the tests (vendorimg load,
// daemon.Load, or the vendorimgtest package's Main), the package's TestMain
// turns the reaper off (see below):
//
//	func TestMain(m *testing.M) {
//		if err := tcimages.DisableReaper(); err != nil {
//			log.Fatal(err)
//		}
//		os.Exit(m.Run())
//	}
//
// and a test starts its container as usual, with the substitutor:
//
//	sub, err := tcimages.FindSubstitutor(".")
//	...
//	ctr, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
//		ContainerRequest: testcontainers.ContainerRequest{
//			Image:             "alpine:3.19.1@sha256:c5b1...",
//			ImageSubstitutors: []testcontainers.ImageSubstitutor{sub},
//		},
//		Started: true,
//	})
//	testcontainers.CleanupContainer(t, ctr)
//
// For a module's Run, testcontainers.WithImageSubstitutors(sub) does the
// same (it replaces the request's substitutors). After the tests,
// "vendorimg verify --daemon" (or daemon.Verify) proves the tags still
// point to the vendored images.
//
// # Pulls
//
// testcontainers-go inspects the image by the name it is given and pulls
// only when docker does not know that name, when
// ContainerRequest.AlwaysPullImage is true, or when
// ContainerRequest.ImagePlatform names another OS or architecture than the
// local image's. With the tag loaded, AlwaysPullImage false and
// ImagePlatform empty (the defaults), it does not pull.
//
// The pinned form is the catch: an image loaded from a layout has a tag but
// no RepoDigests (those come only from a registry), so docker does not know
// "ref@sha256:...", and testcontainers-go pulls it. Offline that pull fails
// with a registry error (Engine 20.10 says "dial tcp: lookup
// registry.vendorimg.test: no such host"; an error the engine reports as
// temporary is retried with backoff for up to 15 minutes) that does not say
// the image was meant to come from the layout; online it fetches from the
// registry what the test meant to take from the layout. The substitutor
// turns every form into the tag, which docker knows, and fails at once,
// naming vendorimg.yaml, for an image that is not vendored. It does not
// contact docker: an image that was not loaded is still pulled by its tag.
//
// Leave testcontainers-go's Docker Hub prefix unset
// (TESTCONTAINERS_HUB_IMAGE_NAME_PREFIX, hub.image.name.prefix): it is
// applied after every user substitutor, to every Docker Hub name in any
// form, and would rename a vendored Docker Hub image to a mirror's name
// that docker does not hold, which it then pulls. Vendoring replaces that
// mirror.
//
// # The reaper
//
// By default testcontainers-go starts a reaper container (Ryuk, image
// testcontainers/ryuk:0.14.0 for v0.45) that removes the session's
// containers when the test process ends. Its image comes from Docker Hub:
// offline the pull fails, and with it every container request. Turn the
// reaper off with the environment variable TESTCONTAINERS_RYUK_DISABLED=true
// (exactly "true": v0.45 reads any other boolean, such as "1", as false), or
// with ryuk.disabled=true in ~/.testcontainers.properties (the environment
// variable, when set to a boolean, wins). testcontainers-go reads both once
// per process, at its first use; [DisableReaper] sets the variable, from a
// TestMain, and checks that it took effect.
//
// The trade-off: nothing removes a container that a test leaves behind (a
// test killed by -timeout, a missing Terminate), so each test terminates its
// containers itself, with testcontainers.CleanupContainer(t, ctr) or a
// deferred Terminate. Vendoring the reaper's image too (vendorimg add
// docker.io/testcontainers/ryuk:0.14.0, then load) keeps the reaper
// offline; that needs the network once, at add time.
package tcimages
