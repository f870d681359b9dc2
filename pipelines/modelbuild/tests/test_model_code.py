"""Preprocess, train and evaluate on a small sample of each problem type's seed data, and the pipeline
definition, offline: what must hold before a build starts SageMaker jobs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import evaluate
import preprocess
import pytest
import seed_data
import train
import xgboost as xgb

ROOT = Path(__file__).resolve().parents[1]

GATES = {"binary_classification": ("auc", 0.8), "multiclass_classification": ("accuracy", 0.7),
         "regression": ("r2", 0.5)}


def script(name: str, *args: str) -> None:
    """A step's script as its container runs it (main with the same arguments), in this process."""
    assert {"preprocess": preprocess, "train": train, "evaluate": evaluate}[name].main(list(args)) == 0


@pytest.mark.parametrize("problem_type", sorted(GATES))
def test_seed_data_trains_a_servable_model_that_passes_the_gate(tmp_path, problem_type):
    data = seed_data.generate(problem_type, rows=3000)
    data.to_csv(tmp_path / "input.csv", index=False)
    label = seed_data.DEFAULT_LABELS[problem_type]
    metric, threshold = GATES[problem_type]
    script("preprocess", "--input-dir", str(tmp_path / "input.csv"), "--output-dir", str(tmp_path / "data"),
           "--label", label, "--problem-type", problem_type)
    script("train", "--train", str(tmp_path / "data" / "train"), "--validation", str(tmp_path / "data" / "validation"),
           "--model-dir", str(tmp_path / "model"), "--output-data-dir", str(tmp_path / "output"),
           "--problem-type", problem_type, "--num_round", "60")
    # the serving container loads every non-hidden file of the model directory as a booster
    assert [p.name for p in (tmp_path / "model").iterdir()] == ["xgboost-model"]
    xgb.Booster().load_model(tmp_path / "model" / "xgboost-model")
    script("evaluate", "--model", str(tmp_path / "model"), "--test", str(tmp_path / "data" / "test"),
           "--output-dir", str(tmp_path), "--problem-type", problem_type, "--quality-metric", metric,
           "--quality-threshold", str(threshold))
    gate = json.loads((tmp_path / "evaluation.json").read_text())["quality_gate"]
    assert gate["passed"], gate


def test_the_pipeline_definition_renders_offline(tmp_path):
    out = tmp_path / "pipeline.json"
    result = subprocess.run([sys.executable, str(ROOT / "run_pipeline.py"), "definition", "--out", str(out)],
                            capture_output=True, text=True, timeout=180,
                            env={"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "eu-west-1"})
    assert result.returncode == 0, result.stderr
    definition = json.loads(out.read_text())
    assert definition["Parameters"] == []
    assert {s["Name"] for s in definition["Steps"]} >= {"Preprocess", "Train", "Evaluate", "QualityGate"}
