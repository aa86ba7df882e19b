"""A fake vendorimg for the plugin's tests: it answers each subcommand as a
test tells it, in today's form or in the error-document form, and logs
every call."""

import json

import pytest

# A shell script, not Python: it starts in a millisecond, and the tests call
# it dozens of times.
FAKE = """#!/bin/sh
IFS="$(printf '\\t')"
n="$(grep -c "^$1\\($(printf '\\t')\\|\\$\\)" "$FAKE_VENDORIMG/log" 2>/dev/null || true)"
printf '%s\\n' "$*" >> "$FAKE_VENDORIMG/log"
if [ "$1" = watch ]; then
    # vendorimg watch: the ready line, then an answer per request line
    # (watch.reply.N for the Nth request, else watch.reply), each logged.
    if [ ! -s "$FAKE_VENDORIMG/watch.ready" ]; then echo "vendorimg: watching images: no docker engine" >&2; exit 1; fi
    cat "$FAKE_VENDORIMG/watch.ready"
    i=0
    while IFS= read -r line; do
        i=$((i+1))
        printf 'request\\t%s\\n' "$line" >> "$FAKE_VENDORIMG/log"
        if [ -f "$FAKE_VENDORIMG/watch.reply.$i" ]; then cat "$FAKE_VENDORIMG/watch.reply.$i"
        else cat "$FAKE_VENDORIMG/watch.reply"; fi
    done
    exit 0
fi
answer="$FAKE_VENDORIMG/$1"
if [ -f "$answer.$n.code" ]; then answer="$answer.$n"; fi
if [ ! -f "$answer.code" ]; then
    echo "vendorimg: unknown command $1" >&2
    exit 2
fi
if [ -f "$answer.stdout" ]; then cat "$answer.stdout"; fi
cat "$answer.stderr" >&2
exit "$(cat "$answer.code")"
"""

PROBE = "registry.vendorimg.test/probe:1"
PROBE_ID = "sha256:e318d02d17027f40083e3747c48d67ef1821857c8149ca69e71045ce0eee5e1d"
PROBE_PIN = "sha256:e351f403b6dfee83d32166c7d66efb05595650fccb420c74041a4e77f41dd0cd"
ALPINE = "docker.io/library/alpine:3.19.1"
ALPINE_ID = "sha256:05455a08881ea9cf0e752bc48e61bbd71a34c029bb13df01e40e3e70e0d007bd"
ALPINE_PIN = "sha256:c5b1261d6d3e43071626931fc004f70149baeba2c8ec672bd4f27761f8e1ad6b"
ENGINE = {"version": "20.10.24+dfsg1", "platform": "linux/amd64", "store": "classic"}

LOAD_OK = {
    "engine": ENGINE,
    "platform": "linux/amd64",
    "images": [
        {"ref": PROBE, "tag": PROBE, "platform": "linux/amd64", "imageId": PROBE_ID,
         "match": "config", "action": "loaded", "bytes": 850465, "streamed": 850465, "seconds": 0.6},
        {"ref": ALPINE, "tag": "alpine:3.19.1", "platform": "linux/amd64", "imageId": ALPINE_ID,
         "match": "config", "action": "skipped", "bytes": 3412170, "streamed": 0, "seconds": 0.01},
    ],
}

LAYOUT_OK = {"layout": "/src/testdata/images", "deep": False, "blobs": 7, "bytes": 1631348,
             "images": [], "findings": []}


def verify_doc(daemon_findings=(), layout_findings=()):
    """A verify --daemon --json report."""
    ok = not daemon_findings and not layout_findings
    return {
        "ok": ok,
        "layout": {**LAYOUT_OK, "findings": list(layout_findings)},
        "daemon": {
            "engine": ENGINE,
            "images": [
                {"ref": PROBE, "tag": PROBE, "imageId": PROBE_ID if not daemon_findings else "sha256:" + "8" * 64,
                 "platform": "linux/amd64", "match": "config", "ok": not daemon_findings},
            ],
            "findings": list(daemon_findings),
        },
    }


SINCE = "2026-12-07T17:26:23.835439453Z"
UNTIL = "2026-12-07T17:26:24.5Z"
WATCH_READY = {"ready": True, "engine": ENGINE, "files": 9, "before": [], "images": [
    {"ref": PROBE, "tag": PROBE, "imageId": PROBE_ID, "platform": "linux/amd64"}]}

STATUS_OK = {
    "config": "/src/vendorimg.yaml",
    "layout": "/src/testdata/images",
    "images": [{"name": PROBE, "digest": PROBE_PIN}, {"name": ALPINE, "digest": ALPINE_PIN}],
    "unconfigured": [],
}

NO_ENGINE_STDERR = (
    "vendorimg: asking docker for its platform: no docker engine: failed to connect to the docker "
    "API at unix:///nonexistent.sock; check if the path is correct and if the daemon is running\n"
)


class FakeVendorimg:
    """The fake, installed as $VENDORIMG. By default load, verify, status
    and unload succeed."""

    def __init__(self, folder, monkeypatch):
        self.folder = folder
        script = folder / "vendorimg"
        script.write_text(FAKE)
        script.chmod(0o755)
        self.answer("load", doc=LOAD_OK)
        self.answer("verify", doc=verify_doc())
        self.answer("status", doc=STATUS_OK)
        self.watch(ready=WATCH_READY, reply={"ok": True, "since": SINCE, "until": UNTIL})
        self.answer("unload", doc={"engine": ENGINE, "images": [
            {"ref": PROBE, "tag": PROBE, "action": "removed", "imageId": PROBE_ID,
             "untagged": [PROBE], "deleted": [PROBE_ID]}]})
        monkeypatch.setenv("VENDORIMG", str(script))
        monkeypatch.setenv("FAKE_VENDORIMG", str(folder))
        monkeypatch.delenv("VENDORIMG_REQUIRE_DOCKER", raising=False)

    def watch(self, ready=None, reply=None, nth=None):
        """Makes vendorimg watch start with ready (one line) and answer
        reply to each request (to the nth only, counting from 1, when nth
        is set)."""
        if ready is not None:
            (self.folder / "watch.ready").write_text(json.dumps(ready) + "\n")
        if reply is not None:
            name = "watch.reply" if nth is None else f"watch.reply.{nth}"
            (self.folder / name).write_text(json.dumps(reply) + "\n")

    def requests(self):
        """The requests vendorimg watch was sent, as objects."""
        return [json.loads(c[1]) for c in self.calls("request")]

    def answer(self, command, code=0, doc=None, stderr="", nth=None):
        """Makes the fake answer command with this exit code, stdout
        document (None: no output) and stderr; only its nth call (from 0)
        when nth is set."""
        if nth is not None:
            command = f"{command}.{nth}"
        out = self.folder / f"{command}.stdout"
        if doc is None:
            out.unlink(missing_ok=True)
        else:
            out.write_text(json.dumps(doc, indent=2) + "\n")
        (self.folder / f"{command}.stderr").write_text(stderr)
        (self.folder / f"{command}.code").write_text(str(code))

    def calls(self, command=None):
        """The argument lists the fake was called with (of command only)."""
        log = self.folder / "log"
        if not log.exists():
            return []
        calls = [line.split("\t") for line in log.read_text().splitlines()]
        return [c for c in calls if command is None or c[0] == command]


@pytest.fixture
def fake(tmp_path_factory, monkeypatch):
    return FakeVendorimg(tmp_path_factory.mktemp("fake"), monkeypatch)
