"""Per-test isolation in inner pytest sessions, against the fake vendorimg
of conftest.py (whose vendorimg watch answers as each test tells it); the
real engine's side is examples/pytest's (pytest_test.go)."""

import pytest

from conftest import NO_ENGINE_STDERR, PROBE, PROBE_ID, SINCE, UNTIL, verify_doc

ON = "[pytest]\nvendorimg = true\n"

COMMITTED = "sha256:" + "5" * 64

# What vendorimg watch answers after a test committed onto the probe's tag.
CHANGED = {
    "ok": False,
    "since": SINCE,
    "until": UNTIL,
    "tags": [{"ref": PROBE, "tag": PROBE, "kind": "tag-moved", "expected": PROBE_ID, "actual": COMMITTED,
              "message": "points to image sha256:555555555555, not the vendored sha256:e318d02d1702"}],
    "events": [{"time": "2026-12-07T17:26:24.123456789Z", "type": "container", "action": "commit", "id": COMMITTED,
                "text": f"docker commit of container happy_ritchie as {PROBE} (image sha256:555555555555)"}],
    "restored": [{"tag": PROBE, "action": "re-tagged", "displaced": COMMITTED, "displacedAction": "removed"}],
}

SUITE = f"""
def test_before(vendorimg_image):
    vendorimg_image("{PROBE}")

def test_commits_onto_the_tag(vendorimg_image):
    vendorimg_image("{PROBE}")

def test_after(vendorimg_image):
    assert vendorimg_image("{PROBE}").id == "{PROBE_ID}"

def test_no_image():
    pass
"""


def test_the_test_that_changed_an_image_fails_at_its_teardown(pytester, fake):
    fake.watch(reply=CHANGED, nth=2)
    pytester.makeini(ON)
    pytester.makepyfile(SUITE)
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=4, errors=1)
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_commits_onto_the_tag*",
            "vendorimg: this test changed a vendored image:",
            f"  {PROBE}: tag-moved: points to image sha256:555555555555, not the vendored sha256:e318d02d1702",
            "  what the engine's events say did it:",
            f"    docker commit of container happy_ritchie as {PROBE} (image sha256:555555555555) at 17:26:24.123",
            f"  restored: {PROBE}: re-tagged; the image it pointed to, sha256:555555555555: removed",
            "*= vendorimg =*",
            "vendorimg: 3 tests used vendored images; 4 checked after they ran",
            "vendorimg: 1 test changed a vendored image (each failed at its teardown; the vendored images were put back after each):",
            "  test_the_test_that_changed_an_image_fails_at_its_teardown.py::test_commits_onto_the_tag:",
            f"      {PROBE}: tag-moved: *",
            "ERROR *::test_commits_onto_the_tag",
        ]
    )
    # One check after each test, each asking for the restore, with when
    # the test started.
    requests = fake.requests()
    assert [{k: v for k, v in r.items() if k != "since"} for r in requests] == [{"op": "check", "restore": True}] * 4
    assert all(r["since"] > 0 for r in requests)
    assert len(fake.calls("watch")) == 1


def test_no_restore_and_checking_only_the_fixtures_users(pytester, fake):
    fake.watch(reply=CHANGED, nth=2)
    pytester.makeini(ON + "vendorimg_check = fixture\n")
    pytester.makepyfile(SUITE)
    result = pytester.runpytest("--vendorimg-no-restore")
    result.assert_outcomes(passed=4, errors=1)
    result.stdout.fnmatch_lines(
        [
            "  not restored (--vendorimg-no-restore): later tests see the change",
            "vendorimg: 3 tests used vendored images; 3 checked after they ran",
            "vendorimg: 1 test changed a vendored image (each failed at its teardown; left as they changed them (--vendorimg-no-restore)):",
        ]
    )
    assert [r["restore"] for r in fake.requests()] == [False] * 3


def test_check_off(pytester, fake):
    pytester.makepyfile(SUITE)
    result = pytester.runpytest("--vendorimg", "--vendorimg-check", "off")
    result.assert_outcomes(passed=4)
    assert fake.calls("watch") == []
    result.stdout.fnmatch_lines(["vendorimg: 3 tests used vendored images; 0 checked after they ran (vendorimg_check = off)"])


def test_a_tag_of_its_own(pytester, fake):
    own = PROBE + "-t1"
    fake.watch(reply={"tag": own}, nth=1)
    fake.watch(reply={"tag": own, "action": "removed sha256:555555555555"}, nth=3)
    pytester.makeini(ON)
    pytester.makepyfile(
        f"""
def test_own(vendorimg_image):
    image = vendorimg_image("{PROBE}", own_tag=True)
    assert (image.tag, image.id) == ("{own}", "{PROBE_ID}")
"""
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    requests = fake.requests()
    assert [r["op"] for r in requests] == ["tag", "check", "untag"], requests
    assert requests[0]["ref"] == PROBE and requests[2]["tag"] == own


def test_required_docker_fails_before_a_projects_own_skip(pytester, fake, monkeypatch):
    fake.answer("load", code=1, stderr=NO_ENGINE_STDERR)
    monkeypatch.setenv("VENDORIMG_REQUIRE_DOCKER", "1")
    pytester.makeini(ON)
    pytester.makepyfile(
        f"""
import shutil, subprocess, pytest

pytestmark = pytest.mark.skipif(True, reason="docker is not running")

def test_e2e(vendorimg_image):
    vendorimg_image("{PROBE}")
"""
    )
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: VENDORIMG_REQUIRE_DOCKER=1 requires a docker engine, and none answers: vendorimg load: *no docker engine*"])
    assert "skipped" not in result.stdout.str()


BLOB_CHANGED = {
    "kind": "digest", "path": "blobs/sha256/" + "4" * 64, "image": PROBE,
    "expected": "sha256:" + "4" * 64, "actual": "sha256:" + "9" * 64,
    "message": "blob hashes to sha256:999999999999",
}


def test_wrong_before_the_session_is_told_apart(pytester, fake):
    fake.answer("verify", code=1, doc=verify_doc([], [BLOB_CHANGED]))
    pytester.makeini(ON)
    pytester.makepyfile(SUITE)
    result = pytester.runpytest()
    result.assert_outcomes(passed=4)
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "vendorimg verify --daemon FAILED: already wrong before the test session (found when the images were loaded) (1 problem):",
            f"  blobs/sha256/{'4' * 64}: digest: *",
            '"vendorimg verify --deep --daemon" shows this again; restore the layout from git*',
        ]
    )
    result.stdout.no_fnmatch_line("*changed during the test session*")


def test_exclusive_marker_is_registered(pytester, fake):
    pytester.makeini(ON)
    pytester.makepyfile(
        f"""
import pytest

@pytest.mark.vendorimg_exclusive
def test_changes_on_purpose(vendorimg_image):
    vendorimg_image("{PROBE}")
"""
    )
    result = pytester.runpytest("--strict-markers")
    result.assert_outcomes(passed=1)


def test_load_says_what_it_replaced(pytester, fake):
    from conftest import LOAD_OK

    doc = {**LOAD_OK, "images": [{**LOAD_OK["images"][0], "action": "loaded", "replaced": COMMITTED,
                                  "replacedAction": "removed (nothing else named or used it)"}]}
    fake.answer("load", doc=doc)
    pytester.makeini(ON)
    pytester.makepyfile(SUITE)
    result = pytester.runpytest()
    result.stdout.fnmatch_lines(
        [f"  {PROBE}: loaded sha256:e318d02d1702 (linux/amd64, 850465 bytes); replaced sha256:555555555555, "
         "which the tag pointed to: removed (nothing else named or used it)"]
    )


def test_candidates_across_workers(tmp_path):
    """TestLog names the tests of other workers that ran when a change
    happened, and only those."""
    from pytest_vendorimg import isolation

    gw0, gw1 = isolation.TestLog(tmp_path, "gw0"), isolation.TestLog(tmp_path, "gw1")
    gw1.start("test_before", 1.0)
    gw1.end("test_before", 2.0)
    gw0.start("test_mine", 3.0)
    gw1.start("test_during", 4.0)
    gw1.end("test_during", 5.0)
    gw1.start("test_still_running", 6.0)
    assert gw0.others([(3.0, 7.0)]) == ["test_during (gw1)", "test_still_running (gw1)"]
    assert gw0.others([(4.5, 4.5)]) == ["test_during (gw1)"]
    assert gw0.others([(5.5, 5.5)]) == []
    rep = {"since": "1970-01-01T00:00:01Z", "until": "1970-01-01T00:00:07.5Z", "events": []}
    assert isolation.change_times(rep, 3.0) == [(3.0, 7.5)]


def test_a_watch_that_cannot_start_fails_the_check(pytester, fake):
    (fake.folder / "watch.ready").write_text("")  # the fake watch then fails at its start
    pytester.makeini(ON)
    pytester.makepyfile(SUITE)
    result = pytester.runpytest()
    result.assert_outcomes(passed=4, errors=4)
    result.stdout.fnmatch_lines(["vendorimg: cannot check the vendored images after this test: vendorimg watch stopped: vendorimg: watching images: no docker engine"])
