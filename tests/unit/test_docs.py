"""The README is the front door (short) and every page it or docs/ links to exists."""

from __future__ import annotations

import re

import pytest

from tests.synth import ROOT

PAGES = ["README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)#\s]+)(#[^)]*)?\)")


def test_readme_is_a_front_door():
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= 200


def test_docs_have_one_page_per_concern():
    assert {p.stem for p in (ROOT / "docs").glob("*.md")} >= {
        "configuration", "model-build", "approval-and-deploy", "serving", "monitoring", "accounts-and-cost",
        "security", "performance", "architecture"}


@pytest.mark.parametrize("page", PAGES)
def test_every_relative_link_resolves(page):
    path = ROOT / page
    targets = [m.group(1) for m in LINK.finditer(path.read_text(encoding="utf-8"))
               if not m.group(1).startswith(("http://", "https://", "mailto:"))]
    missing = [t for t in targets if not (path.parent / t).exists()]
    assert missing == []
