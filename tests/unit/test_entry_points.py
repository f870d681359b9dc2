"""A bad config stops app.py and the pre-check with one line, no traceback and no template written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.synth import ROOT, project_context


def run(args: list[str], env_extra: dict[str, str]) -> subprocess.CompletedProcess:
    env = {**os.environ, **env_extra}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def test_app_rejects_bad_config_before_building_anything(tmp_path: Path):
    config = tmp_path / "bad.yaml"
    config.write_text("factory: {name: acme-ml}\nteams:\n  - {name: fraud, account: '12', monthly_budget_usd: 1, "
                      "approvers: [a@acme.io]}\n")
    outdir = tmp_path / "out"
    result = run(["app.py"], {"CDK_CONTEXT_JSON": json.dumps({"config": str(config)}), "CDK_OUTDIR": str(outdir)})
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"{config}: teams[0].account: must be an AWS account id of exactly 12 digits (got '12')"
    ]
    assert "Traceback" not in result.stderr
    assert not list(outdir.glob("**/*.template.json"))


def test_config_precheck_command(tmp_path: Path):
    config = tmp_path / "bad.yaml"
    config.write_text("factory: {name: acme-ml}\nteams: []\n")
    result = run(["-m", "stacks.config", str(config)], {})
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith(f"{config}: teams: list should have at least 1 item")
    assert run(["-m", "stacks.config", str(ROOT / "config" / "factory.yaml")], {}).returncode == 0


def test_train_local_refuses_an_unknown_model_in_one_line(tmp_path: Path):
    result = run(["scripts/train_local.py", "--model", "fraud/nope", "--out", str(tmp_path)], {})
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "train-local: MODEL: 'fraud/nope' is not a model of config/factory.yaml (one of fraud/card-fraud, "
        "pricing/demand-forecast)"]
    assert not (tmp_path / "settings.json").exists()


def test_the_example_regression_model_passes_its_own_gate_locally(tmp_path: Path):
    """The example config's pricing/demand-forecast (regression, r2 >= 0.5) on its own seed data; the binary
    card-fraud model is trained the same way by tests/pipelines/test_seed_scripts.py."""
    result = run(["scripts/train_local.py", "--model", "pricing/demand-forecast", "--out", str(tmp_path)], {})
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "evaluation.json").read_text())
    assert report["quality_gate"]["metric"] == "r2" and report["quality_gate"]["passed"] is True
    assert set(report["regression_metrics"]) == {"mse", "rmse", "mae", "r2"}
    assert [p.name for p in (tmp_path / "model").iterdir()] == ["xgboost-model"]
    settings = json.loads((tmp_path / "settings.json").read_text())
    assert (settings["label"], settings["data_s3_uri"]) == (
        "demand", "s3://mf-pricing-222222222222-eu-west-1/mf-pricing-demand-forecast/data/")


def test_teams_builds_only_those_stages_after_validating_the_whole_config(tmp_path: Path):
    outdir = tmp_path / "out"
    context = {**project_context(), "teams": "pricing"}  # the CLI adds cdk.json's context (feature flags)
    result = run(["app.py"], {"CDK_CONTEXT_JSON": json.dumps(context), "CDK_OUTDIR": str(outdir)})
    assert result.returncode == 0, result.stderr[-2000:]
    assert sorted(p.name for p in outdir.glob("assembly-*")) == ["assembly-pricing"]


def test_teams_naming_a_team_that_is_not_in_the_config_is_one_line_and_writes_nothing(tmp_path: Path):
    outdir = tmp_path / "out"
    result = run(["app.py"], {"CDK_CONTEXT_JSON": json.dumps({"teams": "pricing,nope"}), "CDK_OUTDIR": str(outdir)})
    assert result.returncode == 1
    assert [line for line in result.stderr.splitlines() if not line.startswith("b'")] == [
        "TEAMS: 'nope' is not a team of config/factory.yaml (teams: fraud, pricing)"]
    assert not list(outdir.glob("**/*.template.json"))


def test_monitor_local_needs_its_three_folders():
    result = subprocess.run(["make", "--no-print-directory", "monitor-local"], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[0] == (  # make adds its own "*** ... Error 2" line after it
        "monitor-local: CAPTURE=<dir of .jsonl capture files> BASELINE=<baseline dir> OUT=<dir> are required")
