"""`make mlflow-ui` in a real headless Chromium: the pipeline run, a test metric and the confusion matrix."""

import os
import shutil
import signal
import subprocess
import time
import urllib.request

import pytest

from tests.conftest import ROOT, free_ports
from tests.e2e.conftest import BIN

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Debian's Chromium as root in a sandbox-less container, without background network traffic.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def ui(store, tmp_path_factory):
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (apt install chromium); .ci/run installs it")
    (port,) = free_ports()
    log = (tmp_path_factory.mktemp("mlflow_ui") / "server.log").open("w")
    server = subprocess.Popen(["make", "--no-print-directory", "mlflow-ui", f"BIN={BIN}", "STAMP=",
                               f"MLFLOW_DB={store['db']}", f"MLFLOW_PORT={port}"],
                              cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(f"{url}/health", timeout=2)
            break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                os.killpg(server.pid, signal.SIGTERM)
                pytest.fail(f"make mlflow-ui did not come up; see {log.name}")
            time.sleep(1)
    yield url
    os.killpg(server.pid, signal.SIGTERM)
    server.wait(timeout=30)


def test_the_ui_shows_the_run_its_test_accuracy_and_the_confusion_matrix(store, client, ui, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    run_id = store["runs"]["make_run"]["run_id"]
    parent = client.get_run(run_id)
    experiment = parent.info.experiment_id
    evaluate = client.search_runs([experiment], f"tags.`mlflow.parentRunId` = '{run_id}' and "
                                                "attributes.run_name = 'evaluate'")[0]
    accuracy = parent.data.metrics["test_accuracy"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(f"{ui}/#/experiments/{experiment}/runs")
            expect(page.get_by_text(parent.info.run_name).first).to_be_visible(timeout=90_000)
            page.screenshot(path=tmp_path / "1_experiment_runs.png")

            page.goto(f"{ui}/#/experiments/{experiment}/runs/{run_id}")
            expect(page.get_by_text("test_accuracy", exact=True).first).to_be_visible(timeout=90_000)
            expect(page.get_by_text(str(accuracy), exact=True).first).to_be_visible()
            expect(page.get_by_text("evaluate", exact=True).first).to_be_visible()  # a child run
            page.screenshot(path=tmp_path / "2_pipeline_run.png", full_page=True)

            page.goto(f"{ui}/#/experiments/{experiment}/runs/{evaluate.info.run_id}/artifacts")
            page.get_by_text("confusion_matrix.png", exact=True).first.click(timeout=90_000)
            image = page.locator("img[src^='blob:']").first
            expect(image).to_be_visible(timeout=30_000)
            page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
            assert image.evaluate("img => img.naturalWidth") == 600  # the plot's width in pixels
            page.screenshot(path=tmp_path / "3_confusion_matrix.png")
        finally:
            browser.close()
    print(f"screenshots: {tmp_path}")
