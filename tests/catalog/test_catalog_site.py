"""The static catalog site in a real headless browser (Debian's Chromium through chromedriver, W3C WebDriver):
the index renders every model of the example export, typing in the search box and choosing a filter narrow the
list, and a model page shows its serving versions and its client code. Screenshots for review are written to
build/catalog-screenshots/. Without Chromium the test is skipped with the install command, never passed."""

from __future__ import annotations

import pytest

from scripts import catalog
from tests.synth import ROOT
from tests.webdriver import INSTALL, Browser, available

SHOTS = ROOT / "build" / "catalog-screenshots"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("catalog-site")
    catalog.site(catalog.load_export(catalog.EXAMPLE), out)
    return out


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not available():
        pytest.skip(f"no Chromium with chromedriver on this machine: {INSTALL}")
    opened = Browser(tmp_path_factory.mktemp("chromium-profile"))
    yield opened
    opened.close()


def test_the_site_renders_searches_filters_and_shows_a_models_snippet(site, browser):
    """One test, so that a machine without Chromium reports exactly one skip (with the install command)."""
    browser.get((site / "index.html").as_uri())
    assert len(browser.find(".model")) == 2
    (count,) = browser.find("#count")
    assert browser.text(count) == "2 of 2 models"
    browser.screenshot(SHOTS / "index.png")
    (search,) = browser.find("#search")
    browser.type(search, "card amount")  # a word of the name and a feature
    (card,) = browser.find(".model")
    assert browser.text(card).startswith("fraud / card-fraud")
    assert browser.text(count) == "1 of 2 models"
    browser.screenshot(SHOTS / "index-search.png")
    browser.clear(search)
    browser.type(search, " ")
    browser.select("#mode option[value=batch]")
    (card,) = browser.find(".model")
    assert browser.text(card).startswith("pricing / demand-forecast")

    # a model page shows its versions and its client code
    browser.get((site / "models" / "fraud--card-fraud.html").as_uri())
    (title,) = browser.find("#title")
    assert browser.text(title) == "fraud / card-fraud"
    rows = browser.find("#serving tr")
    assert len(rows) == 3  # header, prod, staging
    (snippet,) = browser.find("#snippet-prod-client\\.py")
    code = browser.text(snippet)
    assert "SigV4Auth(boto3.Session().get_credentials(), \"execute-api\", REGION)" in code
    assert "/prod/card-fraud/invocations" in code
    browser.screenshot(SHOTS / "model-card-fraud.png")
