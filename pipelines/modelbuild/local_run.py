#!/usr/bin/env python3
"""Run preprocess -> train -> evaluate on this machine with the same scripts SageMaker runs.

    python local_run.py --out build/local-run                      # the seed model of the example settings
    python local_run.py --settings settings.json --out build/x     # a model's MODEL_FACTORY_SETTINGS

Writes OUT/evaluation.json (with quality_gate), OUT/model/ (exactly what the build packages as
model.tar.gz, which is also written), OUT/baseline/ (the drift baseline) and OUT/output-data/ (training
metadata). Exits 1 when a step fails
or the model misses its quality gate, as the build would.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tarfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CODE = HERE / "code"
DEFAULTS = {"problem_type": "binary_classification", "label": "is_fraud", "features": [], "quality_metric": "auc",
            "quality_threshold": 0.8}


def step(name: str, *args: str) -> None:
    started = time.perf_counter()
    result = subprocess.run([sys.executable, str(CODE / f"{name}.py"), *args])
    if result.returncode != 0:
        raise SystemExit(f"local run: {name} failed (exit {result.returncode})")
    print(f"local run: {name} done in {time.perf_counter() - started:.1f} s")


def seed_input(settings: dict, out: Path) -> Path:
    """The seed data the build would upload into an empty data prefix."""
    sys.path.insert(0, str(HERE))
    from run_pipeline import seed_csv

    body = seed_csv(settings["problem_type"], settings["label"], settings["features"])
    if body is None:
        raise SystemExit("local run: no seed data in data/: give --input")
    path = out / "input" / "seed.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    return path


def package_model(model_dir: Path, archive: Path) -> None:
    """model.tar.gz as SageMaker training writes it: the contents of /opt/ml/model at the archive's root."""
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(model_dir.iterdir()):
            tar.add(path, arcname=path.name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("build/local-run"))
    parser.add_argument("--settings", type=Path, help="the model's pipeline settings (MODEL_FACTORY_SETTINGS)")
    parser.add_argument("--input", type=Path, help="a CSV file or folder (default: the model's seed data)")
    args = parser.parse_args(argv)
    settings = {**DEFAULTS, **(json.loads(args.settings.read_text()) if args.settings else {})}
    out = args.out.resolve()
    problem_type, label = settings["problem_type"], settings["label"]
    source = args.input.resolve() if args.input else seed_input(settings, out)
    step("preprocess", "--input-dir", str(source), "--output-dir", str(out / "data"), "--label", label,
         "--problem-type", problem_type)
    step("train", "--train", str(out / "data" / "train"), "--validation", str(out / "data" / "validation"),
         "--model-dir", str(out / "model"), "--output-data-dir", str(out / "output-data"),
         "--problem-type", problem_type)
    package_model(out / "model", out / "model.tar.gz")
    step("evaluate", "--model", str(out / "model"), "--test", str(out / "data" / "test"),
         "--output-dir", str(out), "--problem-type", problem_type,
         "--quality-metric", settings["quality_metric"], "--quality-threshold", str(settings["quality_threshold"]))
    # the drift baseline the build registers: the training split's features and the test split's scores
    step("drift", "baseline", "--features", str(out / "data" / "baseline" / "baseline.csv"),
         "--predictions", str(out / "predictions.csv"), "--out", str(out / "baseline"))
    gate = json.loads((out / "evaluation.json").read_text())["quality_gate"]
    print(f"local run: report at {out / 'evaluation.json'}")
    verdict = "passed" if gate["passed"] else "failed"
    line = (f"local run: quality gate {verdict}: {gate['metric']} = {gate['value']:.4f}, required "
            f"{gate['comparison']} {gate['threshold']}")
    if not gate["passed"]:
        print(line, file=sys.stderr)
        return 1
    print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
