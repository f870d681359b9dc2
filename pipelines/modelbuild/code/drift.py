#!/usr/bin/env python3
"""The factory's own drift and quality engine (no SageMaker Model Monitor): the same code builds the drift
baseline at build time and compares live traffic with it.

    python drift.py baseline --features baseline/baseline.csv --predictions predictions.csv --out drift-baseline/
    python drift.py report --capture capture/ --baseline drift-baseline/ --out out/ [--ground-truth gt/]

Runs in the SageMaker scikit-learn processing container (numpy, pandas, scipy, scikit-learn) and locally
(`make monitor-local`).

- Baseline (`baseline.json`): per feature its type; numeric features keep quantile bin edges with the training
  split's counts and a sample of quantiles (for Kolmogorov-Smirnov), categorical features (non-numeric, or at
  most CATEGORICAL_MAX_VALUES distinct values) their value frequencies; the same for the model's scores.
- Report (`drift.json`): per feature the population stability index (PSI) over the baseline's bins (or
  categories), the KS distance next to it for numeric features, and whether it drifted (PSI above the
  threshold); the score's drift; the record count; the quality-gate metric on predictions joined with ground
  truth by event id when ground truth is given. Below `min_records` nothing is judged (`sufficient: false`).
- Capture files are SageMaker data capture JSON Lines: {"captureData": {"endpointInput": {"observedContentType",
  "mode", "data", "encoding": "CSV" | "JSON" | "BASE64"}, "endpointOutput": {...}}, "eventMetadata":
  {"eventId", "inferenceTime"}, "eventVersion": "0"}; ground truth: {"groundTruthData": {"data", "encoding"},
  "eventMetadata": {"eventId"}, "eventVersion": "0"}.
"""

from __future__ import annotations

import argparse
import base64
import csv
import io
import json
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

BINS = 10
CATEGORICAL_MAX_VALUES = 12
KS_SAMPLE_POINTS = 200
# PSI smoothing: an empty bin counts as this share, so that log(0) never occurs
EPSILON = 1e-4
DEFAULT_THRESHOLD = 0.2
DEFAULT_MIN_RECORDS = 200


class DriftError(Exception):
    pass


# --- baseline --------------------------------------------------------------------------------------------

def describe_column(values: pd.Series) -> dict:
    values = values.dropna()
    if not pd.api.types.is_numeric_dtype(values) or values.nunique() <= CATEGORICAL_MAX_VALUES:
        shares = values.astype(str).value_counts(normalize=True).sort_index()
        return {"type": "categorical", "frequencies": {k: float(v) for k, v in shares.items()}}
    numbers = values.astype(float).to_numpy()
    edges = np.unique(np.quantile(numbers, np.linspace(0, 1, BINS + 1)))
    counts, _ = np.histogram(numbers, bins=np.concatenate(([-np.inf], edges[1:-1], [np.inf])))
    sample = np.quantile(numbers, np.linspace(0, 1, KS_SAMPLE_POINTS))
    return {"type": "numeric", "edges": [float(e) for e in edges], "counts": [int(c) for c in counts],
            "sample": [float(v) for v in sample]}


def build_baseline(features: pd.DataFrame, scores: np.ndarray | None) -> dict:
    baseline = {"records": int(len(features)), "features": {c: describe_column(features[c]) for c in features.columns}}
    if scores is not None:
        baseline["score"] = describe_column(pd.Series(np.asarray(scores, dtype=float)))
    return baseline


# --- capture ---------------------------------------------------------------------------------------------

def decode(payload: dict) -> str:
    data = payload.get("data", "")
    if payload.get("encoding") == "BASE64":
        return base64.b64decode(data).decode("utf-8")
    return data


def rows_of(text: str, content_type: str, columns: list[str]) -> list[dict]:
    """The records of one request or response body: CSV lines (no header) or JSON (instances or a list)."""
    if "json" in (content_type or "").lower():
        body = json.loads(text)
        items = body.get("instances", body.get("predictions", body)) if isinstance(body, dict) else body
        items = items if isinstance(items, list) else [items]
        rows = []
        for item in items:
            if isinstance(item, dict):
                rows.append({k: item.get(k) for k in (columns or item)})
            else:
                values = item if isinstance(item, list) else [item]
                rows.append(dict(zip(columns, values)) if columns else {"value": values[0]})
        return rows
    reader = csv.reader(io.StringIO(text.strip()))
    return [dict(zip(columns, line)) if columns else {"value": line[0]} for line in reader if line]


def parse_capture(lines, columns: list[str]) -> pd.DataFrame:
    """One row per record of every captured request: the features, the model's score, event id and time."""
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
            data = event["captureData"]
            metadata = event.get("eventMetadata", {})
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise DriftError(f"capture line {number} is not a data capture record ({error})") from None
        inputs = data.get("endpointInput")
        if inputs is None:
            continue
        features = rows_of(decode(inputs), inputs.get("observedContentType", "text/csv"), columns)
        outputs = data.get("endpointOutput")
        scores = rows_of(decode(outputs), outputs.get("observedContentType", "text/csv"), []) if outputs else []
        for index, row in enumerate(features):
            score = scores[index]["value"] if index < len(scores) else None
            records.append({**row, "__score": score, "__event_id": metadata.get("eventId"),
                            "__time": metadata.get("inferenceTime")})
    frame = pd.DataFrame.from_records(records)
    for column in columns:
        if column in frame:
            frame[column] = _numeric(frame[column])
    if "__score" in frame:
        frame["__score"] = _numeric(frame["__score"])
    return frame


def _numeric(values: pd.Series) -> pd.Series:
    converted = pd.to_numeric(values, errors="coerce")
    return converted if converted.notna().sum() == values.notna().sum() else values


def read_capture_dir(path: Path, columns: list[str]) -> pd.DataFrame:
    files = sorted(p for p in path.rglob("*.jsonl") if p.is_file()) if path.is_dir() else [path]
    if not files:
        raise DriftError(f"no .jsonl capture files under {path}")
    lines = [line for f in files for line in f.read_text(encoding="utf-8").splitlines()]
    return parse_capture(lines, columns)


# --- statistics ------------------------------------------------------------------------------------------

def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index: sum((a - e) * ln(a / e)) over shares, empty shares smoothed."""
    e = np.maximum(np.asarray(expected, dtype=float) / max(np.sum(expected), 1), EPSILON)
    a = np.maximum(np.asarray(actual, dtype=float) / max(np.sum(actual), 1), EPSILON)
    return float(np.sum((a - e) * np.log(a / e)))


def compare(spec: dict, live: pd.Series) -> dict:
    live = live.dropna()
    if spec["type"] == "categorical":
        categories = list(spec["frequencies"])
        observed = live.astype(str).value_counts()
        unseen = int(observed.drop(labels=[c for c in categories if c in observed.index]).sum())
        expected = np.array([spec["frequencies"][c] for c in categories] + [0.0])
        actual = np.array([observed.get(c, 0) for c in categories] + [unseen], dtype=float)
        return {"statistic": "psi", "value": psi(expected, actual), "unseen_values": unseen}
    edges = np.asarray(spec["edges"])
    bounds = np.concatenate(([-np.inf], edges[1:-1], [np.inf]))
    values = pd.to_numeric(live, errors="coerce").dropna().to_numpy(dtype=float)
    actual, _ = np.histogram(values, bins=bounds)
    ks = stats.ks_2samp(np.asarray(spec["sample"]), values).statistic if len(values) else None
    return {"statistic": "psi", "value": psi(np.asarray(spec["counts"]), actual),
            "ks": None if ks is None else float(ks)}


def quality(frame: pd.DataFrame, truth: dict[str, float], problem_type: str, metric: str) -> dict | None:
    """The quality-gate metric on live predictions joined with ground truth by event id."""
    from sklearn import metrics as sk

    joined = frame[frame["__event_id"].isin(truth)].dropna(subset=["__score"])
    if joined.empty:
        return None
    y = np.array([truth[e] for e in joined["__event_id"]], dtype=float)
    scores = joined["__score"].to_numpy(dtype=float)
    if problem_type == "binary_classification":
        predicted = (scores >= 0.5).astype(int)
        values = {"auc": sk.roc_auc_score(y, scores) if len(np.unique(y)) > 1 else math.nan,
                  "accuracy": sk.accuracy_score(y, predicted), "precision": sk.precision_score(y, predicted, zero_division=0),
                  "recall": sk.recall_score(y, predicted, zero_division=0), "f1": sk.f1_score(y, predicted, zero_division=0)}
    elif problem_type == "multiclass_classification":
        values = {"accuracy": sk.accuracy_score(y, np.rint(scores))}
    else:
        values = {"mse": sk.mean_squared_error(y, scores), "rmse": math.sqrt(sk.mean_squared_error(y, scores)),
                  "mae": sk.mean_absolute_error(y, scores), "r2": sk.r2_score(y, scores)}
    return {"metric": metric, "value": float(values[metric]), "records": int(len(joined))}


def read_ground_truth(path: Path) -> dict[str, float]:
    truth = {}
    for file in sorted(path.rglob("*.jsonl")) if path.is_dir() else [path]:
        for line in file.read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                truth[record["eventMetadata"]["eventId"]] = float(decode(record["groundTruthData"]).strip())
    return truth


def report(baseline: dict, frame: pd.DataFrame, *, threshold: float = DEFAULT_THRESHOLD,
           min_records: int = DEFAULT_MIN_RECORDS, truth: dict[str, float] | None = None,
           problem_type: str = "binary_classification", metric: str = "auc") -> dict:
    records = int(len(frame))
    result = {"records": records, "min_records": min_records, "sufficient": records >= min_records,
              "features": {}, "score": None, "quality": None}
    if records < min_records:
        return result  # too few records to judge: nothing is called drifted
    for name, spec in baseline["features"].items():
        if name not in frame:
            raise DriftError(f"feature {name!r} of the baseline is not in the captured requests")
        figures = compare(spec, frame[name])
        result["features"][name] = {**figures, "threshold": threshold, "drifted": figures["value"] > threshold}
    if "score" in baseline and "__score" in frame and frame["__score"].notna().any():
        figures = compare(baseline["score"], frame["__score"])
        result["score"] = {**figures, "threshold": threshold, "drifted": figures["value"] > threshold}
    if truth:
        result["quality"] = quality(frame, truth, problem_type, metric)
    return result


def cloudwatch_metrics(result: dict, *, team: str, model: str, stage: str) -> list[dict]:
    """MetricData for PutMetricData, namespace ModelFactory: per feature drift, the score's, records, quality."""
    base = [{"Name": "Team", "Value": team}, {"Name": "Model", "Value": model}, {"Name": "Stage", "Value": stage}]
    data = [{"MetricName": "DriftRecords", "Dimensions": base, "Value": result["records"], "Unit": "Count"}]
    for name, figures in result["features"].items():
        data.append({"MetricName": "FeatureDrift", "Dimensions": [*base, {"Name": "Feature", "Value": name}],
                     "Value": figures["value"], "Unit": "None"})
    if result["score"]:
        data.append({"MetricName": "ScoreDrift", "Dimensions": base, "Value": result["score"]["value"], "Unit": "None"})
    if result["quality"]:
        data.append({"MetricName": "LiveQuality", "Dimensions": [*base, {"Name": "Metric",
                                                                          "Value": result["quality"]["metric"]}],
                     "Value": result["quality"]["value"], "Unit": "None"})
    return data


# --- command line ---------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    base = commands.add_parser("baseline", help="the drift baseline of the training split and test scores")
    base.add_argument("--features", type=Path, required=True, help="CSV of the training features (no label)")
    base.add_argument("--predictions", type=Path, help="predictions.csv of the test split (column probability "
                                                        "or prediction)")
    base.add_argument("--out", type=Path, required=True)
    rep = commands.add_parser("report", help="compare captured traffic with the baseline")
    rep.add_argument("--capture", type=Path, required=True)
    rep.add_argument("--baseline", type=Path, required=True)
    rep.add_argument("--out", type=Path, required=True)
    rep.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    rep.add_argument("--min-records", type=int, default=DEFAULT_MIN_RECORDS)
    rep.add_argument("--ground-truth", type=Path)
    rep.add_argument("--problem-type", default="binary_classification")
    rep.add_argument("--metric", default="auc")
    args = parser.parse_args(argv)
    try:
        if args.command == "baseline":
            features_path = args.features if args.features.is_file() else next(args.features.glob("*.csv"), None)
            if features_path is None or not features_path.exists():
                raise DriftError(f"no features CSV at {args.features}")
            features = pd.read_csv(features_path)
            scores = None
            if args.predictions and args.predictions.exists():
                predictions = pd.read_csv(args.predictions)
                scores = predictions["probability" if "probability" in predictions else "prediction"].to_numpy()
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / "baseline.json").write_text(json.dumps(build_baseline(features, scores), indent=1))
            print(f"drift: baseline of {len(features)} records, {features.shape[1]} features -> {args.out}")
        else:
            baseline_file = args.baseline / "baseline.json" if args.baseline.is_dir() else args.baseline
            if not baseline_file.exists():
                raise DriftError(f"no baseline.json at {args.baseline}")
            baseline = json.loads(baseline_file.read_text())
            frame = read_capture_dir(args.capture, list(baseline["features"]))
            truth = read_ground_truth(args.ground_truth) if args.ground_truth else None
            result = report(baseline, frame, threshold=args.threshold, min_records=args.min_records, truth=truth,
                            problem_type=args.problem_type, metric=args.metric)
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / "drift.json").write_text(json.dumps(result, indent=1))
            drifted = [name for name, f in result["features"].items() if f["drifted"]]
            print(f"drift: {result['records']} records; "
                  + ("too few to judge" if not result["sufficient"] else
                     f"drifted: {', '.join(drifted) or 'none'}") + f" -> {args.out / 'drift.json'}")
    except DriftError as error:
        print(f"drift: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
