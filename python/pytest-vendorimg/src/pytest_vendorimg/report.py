"""The lines of the "vendorimg" section of pytest's terminal summary, made
from vendorimg's --json documents (see the "--json output" section of
vendorimg's README). Each line is (text, bad): bad lines are shown in red.
"""

from typing import Any, List, Optional, Tuple

from .command import Result

Line = Tuple[str, bool]


def short(image_id: Optional[str]) -> str:
    """sha256:c456b63aa063a1a3... -> sha256:c456b63aa063"""
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
        lines.append(
            (
                f"  {im.get('tag') or im.get('ref')}: {im.get('action')} {short(im.get('imageId'))} "
                f"({im.get('platform')}, {im.get('bytes', 0)} bytes)",
                False,
            )
        )
    return lines


def findings(doc: dict) -> List[List[Line]]:
    """Every finding of a verify report, each naming its tag or blob first,
    with the expected and actual values on lines of their own."""
    out: List[List[Line]] = []
    for f in (doc.get("daemon") or {}).get("findings") or []:
        out.append([(f"  {f.get('tag') or f.get('image')}: {f.get('kind')}: {f.get('message')}", True), *_expected(f)])
    for f in (doc.get("layout") or {}).get("findings") or []:
        where = f.get("path") or f.get("image")
        image = f" (image {f['image']})" if f.get("path") and f.get("image") else ""
        out.append([(f"  {where}: {f.get('kind')}: {f.get('message')}{image}", True), *_expected(f)])
    return out


def _expected(finding: dict) -> List[Line]:
    return [
        (f"      {key:<8} {finding[key]}", True)
        for key in ("expected", "actual")
        if finding.get(key)
    ]


def verify(result: Result, what: str) -> Tuple[List[Line], bool]:
    """The lines for a vendorimg verify run (what: "verify --daemon", ...)
    and whether it passed. A report with findings lists them all; a run
    with no report says vendorimg's error."""
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
    found = findings(doc)
    if not found:
        lines.append((f"vendorimg {what} FAILED (exit {result.code}): {result.message()}", True))
        return lines, False
    lines.append(
        (
            f"vendorimg {what} FAILED: the vendored images changed during the test session "
            f"({len(found)} {'problem' if len(found) == 1 else 'problems'}):",
            True,
        )
    )
    for group in found:
        lines.extend(group)
    lines.append(
        (
            '"vendorimg verify --deep --daemon" shows this again; "vendorimg load" puts the '
            "vendored images back into docker; restore a changed layout from git",
            True,
        )
    )
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
