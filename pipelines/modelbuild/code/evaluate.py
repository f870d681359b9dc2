#!/usr/bin/env python3
"""Evaluate: score the held-out test split and write evaluation.json in SageMaker's model-quality
format ({"binary_classification_metrics": {"auc": {"value": ..., "standard_deviation": ...}, ...}}).

Runs in the SageMaker XGBoost container as a processing job (model tarball and test split under
/opt/ml/processing) and locally (`--model/--test/--output-dir`). Standard deviations come from a
seeded bootstrap of the test split.
"""

from __future__ import annotations

import argparse
import json
import sys
import tarfile
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn import metrics

warnings.filterwarnings("ignore", message=".*Unknown file format.*")

MODEL_FILE = "xgboost-model"
BOOTSTRAP_ROUNDS = 100


def load_booster(model_path: Path) -> xgb.Booster:
    candidates = [model_path] if model_path.is_file() else sorted(model_path.glob("*")) if model_path.exists() else []
    booster = xgb.Booster()
    for candidate in candidates:
        if candidate.name == MODEL_FILE:
            booster.load_model(candidate)
            return booster
        if candidate.name.endswith(".tar.gz"):
            with tarfile.open(candidate) as archive, tempfile.TemporaryDirectory() as tmp:
                archive.extractall(tmp, filter="data")
                booster.load_model(Path(tmp) / MODEL_FILE)
                return booster
    raise FileNotFoundError(f"no {MODEL_FILE} or model.tar.gz found at {model_path}")


def binary_metrics(y: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    predicted = (scores >= 0.5).astype(int)
    return {
        "auc": metrics.roc_auc_score(y, scores),
        "accuracy": metrics.accuracy_score(y, predicted),
        "precision": metrics.precision_score(y, predicted, zero_division=0),
        "recall": metrics.recall_score(y, predicted, zero_division=0),
        "f1": metrics.f1_score(y, predicted, zero_division=0),
    }


def multiclass_metrics(y: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    predicted = scores.argmax(axis=1)
    return {
        "accuracy": metrics.accuracy_score(y, predicted),
        "weighted_precision": metrics.precision_score(y, predicted, average="weighted", zero_division=0),
        "weighted_recall": metrics.recall_score(y, predicted, average="weighted", zero_division=0),
        "weighted_f1": metrics.f1_score(y, predicted, average="weighted", zero_division=0),
    }


def regression_metrics(y: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    mse = metrics.mean_squared_error(y, predicted)
    return {"mse": mse, "rmse": float(np.sqrt(mse)), "mae": metrics.mean_absolute_error(y, predicted),
            "r2": metrics.r2_score(y, predicted)}


SECTIONS = {
    "binary_classification": ("binary_classification_metrics", binary_metrics),
    "multiclass_classification": ("multiclass_classification_metrics", multiclass_metrics),
    "regression": ("regression_metrics", regression_metrics),
}


def evaluate(y: np.ndarray, scores: np.ndarray, problem_type: str, seed: int = 42) -> dict:
    section, compute = SECTIONS[problem_type]
    point = compute(y, scores)
    rng = np.random.default_rng(seed)
    samples: dict[str, list[float]] = {name: [] for name in point}
    for _ in range(BOOTSTRAP_ROUNDS):
        index = rng.integers(0, len(y), len(y))
        if problem_type != "regression" and len(np.unique(y[index])) < 2:
            continue
        for name, value in compute(y[index], scores[index]).items():
            samples[name].append(value)
    return {section: {name: {"value": float(point[name]), "standard_deviation": float(np.std(samples[name]))}
                      for name in point}}


LOWER_IS_BETTER = {"mse", "rmse", "mae"}


def quality_gate(report: dict, metric: str, threshold: float) -> dict:
    """The gate the pipeline's QualityGate step applies, written next to the metrics for people to read."""
    section = next(iter(report.values()))
    if metric not in section:
        raise KeyError(f"quality metric {metric!r} is not in the report (one of {', '.join(section)})")
    value = section[metric]["value"]
    passed = value <= threshold if metric in LOWER_IS_BETTER else value >= threshold
    return {"metric": metric, "threshold": threshold, "value": value, "passed": bool(passed),
            "comparison": "<=" if metric in LOWER_IS_BETTER else ">="}


def champion_comparison(report: dict, champion_report: dict, metric: str) -> dict:
    """The challenger against the serving champion on the same test split: improvement > 0 is better, in the
    metric's own direction."""
    section = next(iter(report))
    challenger = report[section][metric]["value"]
    champion = champion_report[section][metric]["value"]
    improvement = champion - challenger if metric in LOWER_IS_BETTER else challenger - champion
    return {"metric": metric, "challenger": challenger, "champion": champion, "improvement": improvement}


def predictions(labels: np.ndarray, scores: np.ndarray, problem_type: str) -> pd.DataFrame:
    """The test split's ground truth next to the model's output: the model-quality baseline dataset."""
    if problem_type == "binary_classification":
        return pd.DataFrame({"label": labels.astype(int), "probability": scores,
                             "prediction": (scores >= 0.5).astype(int)})
    if problem_type == "multiclass_classification":
        return pd.DataFrame({"label": labels.astype(int), "probability": scores.max(axis=1),
                             "prediction": scores.argmax(axis=1)})
    return pd.DataFrame({"label": labels, "prediction": scores})


def clarify_configs(spec: dict, model_name: str, frame: pd.DataFrame) -> dict[str, dict]:
    """The Clarify analysis configs, per analysis: `analysis_config.json` for the baselining job on the
    test split (the CSV's header row names the columns; a shadow endpoint of `model_name` answers) and
    `monitoring_config.json` for the endpoint's monitor (live requests carry no header: features only).
    `spec` is the pipeline's `clarify_spec()`: the SDK's own config formats."""
    label = spec["label"]
    features = [c for c in frame.columns if c != label]
    predictor = {**spec["predictor"], "model_name": model_name}
    report = {"name": "report", "title": "Analysis Report"}
    common = {"dataset_type": "text/csv", "label": label}
    if "probability_threshold" in spec:
        common["probability_threshold"] = spec["probability_threshold"]
    configs: dict[str, dict] = {}
    if "bias" in spec:
        configs["bias"] = {
            "analysis_config": {**common, **spec["bias"], "predictor": predictor,
                                "methods": {"post_training_bias": {"methods": "all"}, "report": report}},
            "monitoring_config": {**spec["bias"], "headers": [label, *features], "label": label},
        }
    if "shap" in spec:
        # one baseline record: the test split's feature medians
        shap = {**spec["shap"], "baseline": [[float(v) for v in frame[features].median()]]}
        configs["explainability"] = {
            "analysis_config": {**common, "predictor": predictor, "methods": {"shap": shap, "report": report}},
            "monitoring_config": {"methods": {"shap": shap}, "predictor": dict(spec["predictor"]), "headers": features},
        }
    return configs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="evaluate the model on the test split")
    parser.add_argument("--model", type=Path, default=Path("/opt/ml/processing/model"))
    parser.add_argument("--test", type=Path, default=Path("/opt/ml/processing/test"))
    parser.add_argument("--output-dir", type=Path, default=Path("/opt/ml/processing/evaluation"))
    parser.add_argument("--problem-type", default="binary_classification", choices=sorted(SECTIONS))
    parser.add_argument("--quality-metric", help="the quality gate's metric (adds quality_gate to the report)")
    parser.add_argument("--quality-threshold", type=float)
    parser.add_argument("--champion-model", type=Path, help="the serving champion's model, scored on the same split")
    parser.add_argument("--champion-arn", default="")
    parser.add_argument("--clarify-spec", type=json.loads, help="JSON: what the Clarify configs need")
    parser.add_argument("--clarify-model-name", help="the model Clarify's shadow endpoint serves")
    parser.add_argument("--clarify-dir", type=Path, default=Path("/opt/ml/processing/clarify"))
    args = parser.parse_args(argv)
    if args.clarify_spec is not None and not args.clarify_model_name:
        print("evaluate: --clarify-spec needs --clarify-model-name", file=sys.stderr)
        return 1
    test_files = sorted(args.test.glob("*.csv")) if args.test.exists() else []
    if not test_files:
        print(f"evaluate: no test CSV found in {args.test}", file=sys.stderr)
        return 1
    try:
        booster = load_booster(args.model)
    except FileNotFoundError as error:
        print(f"evaluate: {error}", file=sys.stderr)
        return 1
    frame = pd.concat([pd.read_csv(f) for f in test_files], ignore_index=True)
    features = xgb.DMatrix(frame.iloc[:, 1:], feature_names=list(frame.columns[1:]))
    labels, scores = frame.iloc[:, 0].to_numpy(), booster.predict(features)
    report = evaluate(labels, scores, args.problem_type)
    if args.quality_metric:
        try:
            report["quality_gate"] = quality_gate(report, args.quality_metric, args.quality_threshold)
        except KeyError as error:
            print(f"evaluate: {error.args[0]}", file=sys.stderr)
            return 1
    if args.champion_model is not None:
        try:
            champion_scores = load_booster(args.champion_model).predict(features)
            champion_report = evaluate(labels, champion_scores, args.problem_type)
            report["champion"] = {"package_arn": args.champion_arn, **champion_report}
            if args.quality_metric:
                report["comparison"] = champion_comparison(
                    {k: v for k, v in report.items() if k.endswith("_metrics")}, champion_report, args.quality_metric)
        except Exception as error:  # a champion of another schema cannot be compared: say so, do not fail
            report["champion"] = {"package_arn": args.champion_arn,
                                  "error": f"{type(error).__name__}: {str(error).splitlines()[0][:300]}"}
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / "evaluation.json").write_text(json.dumps(report, indent=2))
    predictions(labels, scores, args.problem_type).to_csv(args.output_dir / "predictions.csv", index=False)
    if args.clarify_spec is not None:
        for kind, files in clarify_configs(args.clarify_spec, args.clarify_model_name, frame).items():
            (args.clarify_dir / kind).mkdir(parents=True, exist_ok=True)
            for name, body in files.items():
                (args.clarify_dir / kind / f"{name}.json").write_text(json.dumps(body, indent=2))
    metrics = next(iter(report.values()))
    print(f"evaluate: {json.dumps({k: v['value'] for k, v in metrics.items()})}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
