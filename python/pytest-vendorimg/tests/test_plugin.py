"""The plugin in inner pytest sessions (pytester), against the fake
vendorimg of conftest.py."""

import pytest

from conftest import ALPINE_ID, ALPINE_PIN, NO_ENGINE_STDERR, PROBE, PROBE_ID, verify_doc

ON = "[pytest]\nvendorimg = true\n"

USES_PROBE = f"""
def test_probe(vendorimg_image):
    image = vendorimg_image("{PROBE}")
    assert (image.tag, image.id, str(image)) == ("{PROBE}", "{PROBE_ID}", "{PROBE}")
"""


def test_loads_once_and_verifies_after(pytester, fake):
    pytester.makeini(ON)
    pytester.makepyfile(
        USES_PROBE
        + f"""
import pytest

@pytest.mark.parametrize("ref", ["alpine:3.19.1", "docker.io/library/alpine:3.19.1", "alpine:3.19.1@{ALPINE_PIN}"])
def test_alpine(vendorimg_image, ref):
    image = vendorimg_image(ref)
    assert (image.tag, image.id, image.ref, image.platform) == (
        "alpine:3.19.1", "{ALPINE_ID}", "docker.io/library/alpine:3.19.1", "linux/amd64")
"""
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=4)
    assert result.ret == 0
    # The load, the layout checked right after it (to tell what was wrong
    # before the session), one vendorimg watch checking after each test,
    # and verify --daemon at the end.
    assert [c[0] for c in fake.calls() if c[0] != "request"] == ["load", "verify", "watch", "status", "verify"]
    assert fake.calls("load") == [["load", "--json", "-C", str(pytester.path)]]
    assert fake.calls("watch") == [["watch", "--json", "-C", str(pytester.path)]]
    assert [r["op"] for r in fake.requests()] == ["check"] * 4
    assert fake.calls("verify") == [
        ["verify", "--json", "-C", str(pytester.path)],
        ["verify", "--daemon", "--json", "-C", str(pytester.path)],
    ]
    result.stdout.fnmatch_lines(
        [
            "*= vendorimg =*",
            "vendorimg: 4 tests used vendored images; 4 checked after they ran",
            "vendorimg load: docker 20.10.24+dfsg1 (classic image store), platform linux/amd64",
            f"  {PROBE}: loaded sha256:e318d02d1702 (linux/amd64, 850465 bytes)",
            "  alpine:3.19.1: skipped sha256:05455a08881e (linux/amd64, 3412170 bytes)",
            "vendorimg verify --daemon: layout /src/testdata/images: 7 blobs, 1631348 bytes rehashed",
            f"  {PROBE}: ok sha256:e318d02d1702",
        ]
    )


def test_switched_on_by_the_command_line_and_config_path(pytester, fake):
    pytester.makepyfile(USES_PROBE)
    assert pytester.runpytest("--vendorimg", "--vendorimg-deep", "--vendorimg-unload").ret == 0
    pytester.makeini("[pytest]\nvendorimg_config = sub/vendorimg.yaml\nvendorimg_deep = true\n")
    assert pytester.runpytest().ret == 0
    config = str(pytester.path / "sub" / "vendorimg.yaml")
    assert [c for c in fake.calls() if c[0] not in ("load", "watch", "request")] == [
        ["verify", "--deep", "--json", "-C", str(pytester.path)],
        ["verify", "--daemon", "--deep", "--json", "-C", str(pytester.path)],
        ["unload", "--json", "-C", str(pytester.path)],
        ["verify", "--deep", "--json", "--config", config],
        ["verify", "--daemon", "--deep", "--json", "--config", config],
    ]


def test_off_by_default(pytester, fake):
    pytester.makepyfile(USES_PROBE)
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*pytest-vendorimg is off: add 'vendorimg = true'*or run pytest --vendorimg"])
    assert fake.calls() == []


def test_nothing_asked_nothing_loaded(pytester, fake):
    pytester.makeini(ON)
    pytester.makepyfile("def test_nothing(): pass")
    result = pytester.runpytest()
    assert result.ret == 0
    assert fake.calls() == []
    result.stdout.fnmatch_lines(["vendorimg: no test asked for a vendored image; nothing loaded or verified"])


def test_not_vendored_fails_naming_the_ref(pytester, fake):
    pytester.makeini(ON)
    pytester.makepyfile(
        f"""
def test_absent(vendorimg_image):
    vendorimg_image("busybox:1.36")

def test_wrong_pin(vendorimg_image):
    vendorimg_image("alpine:3.19.1@sha256:{'0' * 64}")
"""
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*vendorimg_image('busybox:1.36'): docker.io/library/busybox:1.36 is not vendored: "
            f"it is not in the nearest vendorimg.yaml upwards from {pytester.path} "
            f"(vendored: {PROBE}, docker.io/library/alpine:3.19.1); vendor it with vendorimg add busybox:1.36",
            f"*docker.io/library/alpine:3.19.1 is pinned to {ALPINE_PIN} in *, not sha256:{'0' * 64}",
        ]
    )


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param({"code": 1, "stderr": NO_ENGINE_STDERR}, id="stderr"),
        pytest.param(
            {"code": 1, "doc": {"error": "no engine here", "kind": "engine-unreachable"}, "stderr": "vendorimg: no engine here\n"},
            id="error-document",
        ),
    ],
)
def test_no_engine_skips_or_fails_when_required(pytester, fake, monkeypatch, answer):
    fake.answer("load", **answer)
    pytester.makeini(ON)
    pytester.makepyfile(USES_PROBE + USES_PROBE.replace("test_probe", "test_probe_again"))
    result = pytester.runpytest("-rs")
    result.assert_outcomes(skipped=2)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["SKIPPED [[]2[]] *: vendorimg load: * (set VENDORIMG_REQUIRE_DOCKER=1 to make this an error)"])
    # No engine: the layout is still checked, docker is not.
    assert [c[:2] for c in fake.calls()] == [["load", "--json"], ["verify", "--json"]]

    # Required: the session fails at its start, before any test ran.
    monkeypatch.setenv("VENDORIMG_REQUIRE_DOCKER", "1")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: VENDORIMG_REQUIRE_DOCKER=1 requires a docker engine, and none answers: vendorimg load: *"])
    result.stdout.no_fnmatch_line("*passed*")


@pytest.mark.parametrize(
    "answer, message",
    [
        pytest.param({"code": 1, "stderr": "vendorimg: reading index.json: invalid layout\n"},
                     "vendorimg load: reading index.json: invalid layout", id="stderr"),
        pytest.param({"code": 1, "doc": {"error": "sha256:abc: not found", "kind": "not-found"}},
                     "vendorimg load: sha256:abc: not found", id="error-document"),
        pytest.param({"code": 1, "stdout": "", "stderr": ""}, "vendorimg load: exited 1 with no message", id="silent"),
    ],
)
def test_load_failure_fails_every_test_that_needs_an_image(pytester, fake, answer, message):
    answer.pop("stdout", None)
    fake.answer("load", **answer)
    pytester.makeini(ON)
    pytester.makepyfile(USES_PROBE + "\ndef test_other(): pass\n")
    result = pytester.runpytest()
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines([f"*{message}*", f"vendorimg load FAILED: {message[len('vendorimg load: '):]}; docker not checked"])
    assert len(fake.calls("load")) == 1


def test_vendorimg_missing(pytester, fake, monkeypatch):
    monkeypatch.setenv("VENDORIMG", str(pytester.path / "no-such-vendorimg"))
    pytester.makeini(ON)
    pytester.makepyfile(USES_PROBE)
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*vendorimg load: running */no-such-vendorimg: *No such file or directory*"])



def test_summary_names_the_vendorimg_it_ran(pytester, fake, monkeypatch):
    # With no vendorimg distribution in the environment: $VENDORIMG, else PATH.
    pytester.makeini(ON)
    pytester.makepyfile(USES_PROBE)
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*= vendorimg =*", f"vendorimg: {fake.folder / 'vendorimg'} ($VENDORIMG)"])

    monkeypatch.delenv("VENDORIMG")
    monkeypatch.setenv("PATH", f"{fake.folder}:/usr/bin:/bin")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*= vendorimg =*", f"vendorimg: {fake.folder / 'vendorimg'} (PATH)"])


def test_prefers_the_environments_vendorimg(pytester, fake):
    # A vendorimg distribution as pip installs the wheel: its RECORD names
    # the binary in the scripts folder, relative to site-packages. It wins
    # over $VENDORIMG (which the fake fixture set) and PATH.
    site = pytester.path / "env" / "lib" / "site-packages"
    dist_info = site / "vendorimg-9.8.7.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: vendorimg\nVersion: 9.8.7\n")
    (dist_info / "RECORD").write_text("../../bin/vendorimg,,\nvendorimg-9.8.7.dist-info/METADATA,,\n")
    binary = pytester.path / "env" / "bin" / "vendorimg"
    binary.parent.mkdir()
    binary.write_bytes((fake.folder / "vendorimg").read_bytes())
    binary.chmod(0o755)
    pytester.syspathinsert(site)
    pytester.makeini(ON)
    pytester.makepyfile(USES_PROBE)
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["*= vendorimg =*", f"vendorimg: {binary} (this environment's, from the vendorimg 9.8.7 wheel)"]
    )
    assert [c[0] for c in fake.calls() if c[0] != "request"] == ["load", "verify", "watch", "verify"]


TAG_MOVED = {
    "kind": "tag-moved", "image": PROBE, "tag": PROBE,
    "expected": PROBE_ID + " (linux/amd64)", "actual": "sha256:" + "8" * 64,
    "message": "points to image 888888888888, which is not the vendored image",
}
BLOB_CHANGED = {
    "kind": "digest", "path": "blobs/sha256/" + "4" * 64, "image": PROBE,
    "expected": "sha256:" + "4" * 64, "actual": "sha256:" + "9" * 64,
    "message": "blob hashes to sha256:999999999999",
}


def test_a_change_fails_the_run_even_when_every_test_passed(pytester, fake):
    fake.answer("verify", code=1, doc=verify_doc([TAG_MOVED], [BLOB_CHANGED]), stderr="")
    fake.answer("verify", nth=0, doc=verify_doc())  # the check when the images were loaded
    pytester.makeini(ON)
    pytester.makepyfile(USES_PROBE)
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "*= vendorimg =*",
            f"  {PROBE}: CHANGED sha256:888888888888",
            "vendorimg verify --daemon FAILED: the vendored images changed during the test session (2 problems):",
            f"  {PROBE}: tag-moved: points to image 888888888888, which is not the vendored image",
            f"      expected {PROBE_ID} (linux/amd64)",
            "      actual   sha256:" + "8" * 64,
            f"  blobs/sha256/{'4' * 64}: digest: blob hashes to sha256:999999999999 (image {PROBE})",
            '"vendorimg verify --deep --daemon" shows this again*',
            "*1 passed*",
        ]
    )


def test_unload_after_a_failed_verify_and_a_failed_unload(pytester, fake):
    fake.answer("verify", code=1, doc={"error": "verification failed", "kind": "verify-failed"})
    fake.answer("unload", code=1, stderr="vendorimg: removing registry.vendorimg.test/probe:1: conflict\n")
    pytester.makeini(ON + "vendorimg_unload = true\n")
    pytester.makepyfile(USES_PROBE)
    result = pytester.runpytest()
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "vendorimg verify --daemon FAILED: verification failed",
            f"vendorimg unload FAILED: removing {PROBE}: conflict",
        ]
    )


def test_unload_reports_what_it_kept(pytester, fake):
    fake.answer("unload", doc={"engine": {}, "images": [
        {"ref": PROBE, "tag": PROBE, "action": "kept", "imageId": "sha256:" + "8" * 64,
         "reason": "the tag points to another image", "untagged": [], "deleted": []}]})
    pytester.makepyfile(USES_PROBE)
    result = pytester.runpytest("--vendorimg", "--vendorimg-unload")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["vendorimg unload:", f"  {PROBE}: kept sha256:888888888888: the tag points to another image"])


def test_a_failing_test_keeps_its_exit_code(pytester, fake):
    pytester.makeini(ON)
    pytester.makepyfile(USES_PROBE + "\ndef test_fails(): assert False\n")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    assert result.ret == 1
    assert [c[:2] for c in fake.calls("verify")] == [["verify", "--json"], ["verify", "--daemon"]]


def test_require_docker_must_be_a_boolean(pytester, fake, monkeypatch):
    fake.answer("load", code=1, stderr=NO_ENGINE_STDERR)
    monkeypatch.setenv("VENDORIMG_REQUIRE_DOCKER", "yes")
    pytester.makeini(ON)
    pytester.makepyfile(USES_PROBE)
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: VENDORIMG_REQUIRE_DOCKER='yes': want 1 or 0"])


def test_the_shared_folder_is_removed(pytester, fake, tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    pytester.makeini(ON)
    pytester.makepyfile(USES_PROBE)
    assert pytester.runpytest_subprocess().ret == 0
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("pytest-vendorimg-")] == []
