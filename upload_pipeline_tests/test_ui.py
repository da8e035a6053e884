"""The Dagster UI in Debian's Chromium (driven by Playwright, no browser download): find the dataset's assets,
materialize them from the UI, see the run succeed; screenshots go to test-artifacts/."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from playwright import sync_api as playwright

from upload_pipeline_tests.dev_server import REPO, DagsterDev, sample_project
from upload_pipeline_tests.unavailable import skip_unless_ci

ARTIFACTS = REPO / "test-artifacts"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def chromium() -> str:
    found = shutil.which("chromium")
    if found:
        return found
    result = subprocess.run(["bash", str(REPO / "scripts" / "install-chromium.sh")], capture_output=True, text=True,
                            timeout=600)
    if result.returncode != 0:
        skip_unless_ci(f"Debian's chromium could not be installed: {result.stderr[-500:]}")
    return result.stdout.strip().splitlines()[-1]


@pytest.mark.timeout(600)
def test_materialize_the_sample_from_the_ui(tmp_path, chromium):
    config = sample_project(tmp_path)
    config.write_text(config.read_text().replace("automation:\n", "automation:\n  sensors: false\n"))
    ARTIFACTS.mkdir(exist_ok=True)
    with DagsterDev(tmp_path) as dev, playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"{dev.url}/asset-groups/sample", wait_until="networkidle")
        skip = page.get_by_role("button", name="Skip")  # the first-visit newsletter dialog, shown after a moment
        try:
            skip.wait_for(timeout=15_000)
            skip.click()
        except playwright.Error:
            pass
        for name in ("landed_files", "shards", "dataset_card", "hub_copy", "s3_copy"):
            assert page.get_by_text(name, exact=True).first.is_visible()
        known = {r["runId"] for r in dev.runs()}
        page.get_by_role("button", name="Materialize all").click()
        run = dev.wait_for_run(known)
        assert run["status"] == "SUCCESS"
        page.reload(wait_until="networkidle")
        page.wait_for_timeout(2000)
        page.screenshot(path=str(ARTIFACTS / "asset-graph.png"))
        page.goto(f"{dev.url}/assets/sample/shards", wait_until="networkidle")
        page.get_by_text("shard_count").first.wait_for(timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "asset-shards.png"), full_page=True)
        browser.close()
    assert (tmp_path / "data/staging/sample/README.md").exists()
    assert (ARTIFACTS / "asset-graph.png").stat().st_size > 10_000
