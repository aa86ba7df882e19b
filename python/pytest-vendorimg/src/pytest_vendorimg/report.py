"""The lines of the "vendorimg" section of pytest's terminal summary, made
from vendorimg's --json documents (see the "--json output" section of
vendorimg's README). Each line is (text, bad): bad lines are shown in red.
"""

from typing import Any, List, Optional, Tuple

from .command import Result

Line = Tuple[str, bool]


def short(image_id: Optional[str]) -> str:
    """sha256:e318d02d1702a1a3... -> sha256:e318d02d1702"""
    return image_id[: len("sha256:") + 12] if image_id else "-"


def image_errors(doc: Any) -> List[str]:
    """The per-image errors of a load or unload report, "  REF: error"."""
    if not isinstance(doc, dict):
        return []
    return [
        f"  {im.get('tag') or im.get('ref')}: {im['error']}"
        for im in doc.get("images") or []
        if im.get("error")
    ]


def load(result: Result, by: str) -> List[Line]:
    """What vendorimg load did, one line per image, from a successful run."""
    doc = result.doc
    engine = doc.get("engine") or {}
    lines = [
        (
            f"vendorimg load{by}: docker {engine.get('version', '?')} "
            f"({engine.get('store', '?')} image store), platform {doc.get('platform', '?')}",
            False,
        )
    ]
    for im in doc.get("images") or []:
        replaced = ""
        if im.get("replaced"):
            replaced = f"; replaced {short(im['replaced'])}, which the tag pointed to: {im.get('replacedAction') or 'left in the engine'}"
        lines.append(
            (
                f"  {im.get('tag') or im.get('ref')}: {im.get('action')} {short(im.get('imageId'))} "
                f"({im.get('platform')}, {im.get('bytes', 0)} bytes){replaced}",
                False,
            )
        )
    return lines


def _key(part: str, f: dict) -> str:
    """What identifies a finding across the check before the session and
    the one after it."""
    return "|".join([part, str(f.get("kind")), str(f.get("path") or ""), str(f.get("tag") or f.get("image") or ""), str(f.get("actual") or "")])


def keys(doc: Any) -> set:
    """The keys of every finding of a verify report."""
    if not isinstance(doc, dict):
        return set()
    out = {_key("daemon", f) for f in (doc.get("daemon") or {}).get("findings") or []}
    out |= {_key("layout", f) for f in (doc.get("layout") or {}).get("findings") or []}
    return out


# What puts each kind of finding right.
HINT_TAG = '"vendorimg load" puts the vendored image back under its tag'
HINT_STORAGE = (
    '"vendorimg load --replace" removes the changed image from the engine and loads it again from the layout '
    "(a plain load skips it: its ID is still the vendored one)"
)
HINT_LAYOUT = 'restore the layout from git (git checkout -- the layout folder), then "vendorimg verify"'
STORAGE_KINDS = ("content", "export", "layers")


def hints(doc: dict) -> List[str]:
    """The remedies for the findings of a verify report, in the order
    tag, storage, layout."""
    daemon = [f.get("kind") for f in (doc.get("daemon") or {}).get("findings") or []]
    out = []
    if any(k not in STORAGE_KINDS for k in daemon):
        out.append(HINT_TAG)
    if any(k in STORAGE_KINDS for k in daemon):
        out.append(HINT_STORAGE)
    if (doc.get("layout") or {}).get("findings"):
        out.append(HINT_LAYOUT)
    return out


def findings(doc: dict, before: Optional[set] = None) -> Tuple[List[List[Line]], List[List[Line]]]:
    """Every finding of a verify report, each naming its tag or blob first,
    with the expected and actual values on lines of their own: those that
    appeared during the session, and those whose key is in before (found
    already when the images were loaded)."""
    during: List[List[Line]] = []
    earlier: List[List[Line]] = []
    for f in (doc.get("daemon") or {}).get("findings") or []:
        group = [(f"  {f.get('tag') or f.get('image')}: {f.get('kind')}: {f.get('message')}", True), *_expected(f)]
        (earlier if before and _key("daemon", f) in before else during).append(group)
    for f in (doc.get("layout") or {}).get("findings") or []:
        where = f.get("path") or f.get("image")
        image = f" (image {f['image']})" if f.get("path") and f.get("image") else ""
        group = [(f"  {where}: {f.get('kind')}: {f.get('message')}{image}", True), *_expected(f)]
        (earlier if before and _key("layout", f) in before else during).append(group)
    return during, earlier


def _expected(finding: dict) -> List[Line]:
    return [
        (f"      {key:<8} {finding[key]}", True)
        for key in ("expected", "actual")
        if finding.get(key)
    ]


def verify(result: Result, what: str, before: Any = None) -> Tuple[List[Line], bool]:
    """The lines for a vendorimg verify run (what: "verify --daemon", ...)
    and whether it passed. A report with findings lists them all, those
    that the check when the images were loaded (before, its report) found
    already apart from the others; a run with no report says vendorimg's
    error."""
    doc = result.doc
    if not isinstance(doc, dict) or ("layout" not in doc and "daemon" not in doc):
        return [(f"vendorimg {what} FAILED: {result.message()}", True)], False
    lay = doc.get("layout") or {}
    lines: List[Line] = [
        (
            f"vendorimg {what}: layout {lay.get('layout', '?')}: "
            f"{lay.get('blobs', 0)} blobs, {lay.get('bytes', 0)} bytes rehashed"
            + (", layers checked against diff_ids" if lay.get("deep") else ""),
            False,
        )
    ]
    for im in (doc.get("daemon") or {}).get("images") or []:
        ok = bool(im.get("ok"))
        state = "ok" if ok else "CHANGED"
        exported = f", {im['exported']} bytes exported and rehashed" if im.get("exported") else ""
        lines.append((f"  {im.get('tag') or im.get('ref')}: {state} {short(im.get('imageId'))}{exported}", not ok))
    passed = result.code == 0 and doc.get("ok") is True
    if passed:
        return lines, True
    during, earlier = findings(doc, keys(before) if before is not None else None)
    if not during and not earlier:
        lines.append((f"vendorimg {what} FAILED (exit {result.code}): {result.message()}", True))
        return lines, False
    for title, found in (
        ("the vendored images changed during the test session", during),
        ("already wrong before the test session (found when the images were loaded)", earlier),
    ):
        if not found:
            continue
        lines.append((f"vendorimg {what} FAILED: {title} ({len(found)} {'problem' if len(found) == 1 else 'problems'}):", True))
        for group in found:
            lines.extend(group)
    lines.append(('"vendorimg verify --deep --daemon" shows this again; ' + "; ".join(hints(doc)), True))
    return lines, False


def unload(result: Result) -> Tuple[List[Line], bool]:
    """The lines for a vendorimg unload run and whether it passed."""
    doc = result.doc
    lines: List[Line] = []
    if isinstance(doc, dict) and doc.get("images") is not None:
        lines.append(("vendorimg unload:", False))
        for im in doc["images"]:
            if im.get("error"):
                continue
            reason = f": {im['reason']}" if im.get("reason") else ""
            lines.append((f"  {im.get('tag') or im.get('ref')}: {im.get('action')} {short(im.get('imageId'))}{reason}", False))
    if result.ok:
        return lines, True
    lines.append((f"vendorimg unload FAILED: {result.message()}", True))
    lines.extend((text, True) for text in image_errors(doc))
    return lines, False
