#!/usr/bin/env python3
"""The factory's own drift and quality engine (no SageMaker Model Monitor): the same code builds the drift
baseline at build time and compares live traffic with it.

    python drift.py baseline --features baseline/baseline.csv --predictions predictions.csv --out drift-baseline/
    python drift.py report --capture capture/ --baseline drift-baseline/ --out out/ [--ground-truth gt/]
    python drift.py monitor --capture-uri s3://b/data-capture/<endpoint>/ --baseline drift-baseline/ --out out/
        --window-hours 1 --team t --model m --stage prod [--ground-truth-uri s3://b/gt/]
    python drift.py batch --input-uri s3://b/scoring/in/ --output-uri s3://b/batch/out/<run>/ --baseline b/
        --out out/ --team t --model m --stage prod

`batch` judges one Batch Transform run like captured traffic: every input object's CSV lines joined with the
lines of its `<object>.out` answer (SplitType Line, AssembleWith Line: one answer line per input line).

Runs in the SageMaker scikit-learn processing container (numpy, pandas, scipy, scikit-learn, boto3) and
locally (`make monitor-local`). `monitor` is what the endpoint's scheduled job runs: it reads the capture files
of the last `--window-hours` whole hours (data capture writes them under .../yyyy/mm/dd/hh/), writes drift.json
and publishes the figures to CloudWatch (namespace ModelFactory).

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
import re
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
from botocore.exceptions import BotoCoreError, ClientError
from scipy import stats

BINS = 10
CATEGORICAL_MAX_VALUES = 12
KS_SAMPLE_POINTS = 200
# PSI smoothing: an empty bin counts as this share, so that log(0) never occurs
EPSILON = 1e-4
DEFAULT_THRESHOLD = 0.2
DEFAULT_MIN_RECORDS = 200
NAMESPACE = "ModelFactory"
# PutMetricData takes at most 1000 metric data per request (CloudWatch API reference, PutMetricData)
METRICS_PER_REQUEST = 1000


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
        if result["quality"]:
            result["quality"]["sufficient"] = result["quality"]["records"] >= min_records
    return result


def cloudwatch_metrics(result: dict, *, team: str, model: str, stage: str) -> list[dict]:
    """MetricData for PutMetricData, namespace ModelFactory: a run (MonitorRuns 1), the records, and, only when
    there were enough records to judge, per feature drift, the score's and the live quality (with the records
    it was joined on). Below min_records nothing is judged, so drift and quality alarms see no datapoint."""
    base = [{"Name": "Team", "Value": team}, {"Name": "Model", "Value": model}, {"Name": "Stage", "Value": stage}]
    data = [{"MetricName": "MonitorRuns", "Dimensions": base, "Value": 1, "Unit": "Count"},
            {"MetricName": "DriftRecords", "Dimensions": base, "Value": result["records"], "Unit": "Count"}]
    for name, figures in result["features"].items():
        data.append({"MetricName": "FeatureDrift", "Dimensions": [*base, {"Name": "Feature", "Value": name}],
                     "Value": figures["value"], "Unit": "None"})
    if result["score"]:
        data.append({"MetricName": "ScoreDrift", "Dimensions": base, "Value": result["score"]["value"], "Unit": "None"})
    # QualityRecords only next to a LiveQuality: the alarm's IF(joined >= min, quality, gate) is 0 where
    # `quality` has no datapoint (CloudWatch metric math, "Using IF expressions"), which would breach the gate
    # (AUC is undefined when a window's labels are all one class)
    quality = result["quality"]
    if quality and quality.get("sufficient", True) and math.isfinite(quality["value"]):
        data.append({"MetricName": "QualityRecords", "Dimensions": base, "Value": quality["records"], "Unit": "Count"})
        data.append({"MetricName": "LiveQuality", "Dimensions": [*base, {"Name": "Metric", "Value": quality["metric"]}],
                     "Value": quality["value"], "Unit": "None"})
    return data


# --- the scheduled job ----------------------------------------------------------------------------------

HOUR_FOLDER = re.compile(r"/(\d{4})/(\d{2})/(\d{2})/(\d{2})/[^/]+\.jsonl$")


def window(now: datetime, hours: int) -> tuple[datetime, datetime]:
    """The last `hours` whole hours before `now` (UTC): a run at 03:05 hourly reads 02:00-03:00."""
    end = now.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)
    return end - timedelta(hours=hours), end


def in_window(key: str, start: datetime, end: datetime) -> bool:
    """Data capture and ground truth files sit under .../yyyy/mm/dd/hh/<file>.jsonl (the hour they were written)."""
    found = HOUR_FOLDER.search(key)
    if not found:
        return False
    hour = datetime(*map(int, found.groups()), tzinfo=timezone.utc)
    return start <= hour < end


def split_s3(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise DriftError(f"not an s3://bucket/prefix URI: {uri!r}")
    bucket, _, prefix = uri[5:].partition("/")
    return bucket, prefix


def window_lines(s3, uri: str, start: datetime, end: datetime, skip: tuple[str, ...] = ()) -> tuple[list[str], int]:
    """Every line of the .jsonl files under `uri` written inside the window (none under a `skip` URI), and
    how many files."""
    bucket, prefix = split_s3(uri)
    # a folder: list "<prefix>/" (what the job role may list), never a sibling that starts the same way
    prefix = prefix.rstrip("/") + "/"
    skipped = tuple(split_s3(u)[1] for u in skip)
    keys = [item["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            for item in page.get("Contents", [])
            if in_window(item["Key"], start, end) and not item["Key"].startswith(skipped or ("\0",))]
    lines = []
    for key in sorted(keys):
        lines += s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8").splitlines()
    return lines, len(keys)


def truth_of(lines: list[str]) -> dict[str, float]:
    truth = {}
    for number, line in enumerate(lines, 1):
        if line.strip():
            try:
                record = json.loads(line)
                truth[record["eventMetadata"]["eventId"]] = float(decode(record["groundTruthData"]).strip())
            except (ValueError, KeyError, TypeError) as error:
                raise DriftError(f"ground truth line {number} is not a ground truth record ({error})") from None
    return truth


def publish(cloudwatch, data: list[dict], when: datetime) -> None:
    for first in range(0, len(data), METRICS_PER_REQUEST):
        chunk = [{**datum, "Timestamp": when} for datum in data[first:first + METRICS_PER_REQUEST]]
        cloudwatch.put_metric_data(Namespace=NAMESPACE, MetricData=chunk)


def monitor(*, s3, cloudwatch, baseline: dict, capture_uri: str, out: Path, window_hours: int, team: str,
            model: str, stage: str, now: datetime, ground_truth_uri: str | None = None, skip: tuple[str, ...] = (),
            threshold: float = DEFAULT_THRESHOLD, min_records: int = DEFAULT_MIN_RECORDS,
            problem_type: str = "binary_classification", metric: str = "auc") -> dict:
    """One scheduled run: the window's capture (and ground truth) from S3 -> drift.json -> CloudWatch."""
    start, end = window(now, window_hours)
    lines, files = window_lines(s3, capture_uri, start, end, skip)
    columns = list(baseline["features"])
    frame = parse_capture(lines, columns) if lines else pd.DataFrame(columns=[*columns, "__score", "__event_id"])
    truth = None
    if ground_truth_uri:
        truth = truth_of(window_lines(s3, ground_truth_uri, start, end)[0])
    result = report(baseline, frame, threshold=threshold, min_records=min_records, truth=truth,
                    problem_type=problem_type, metric=metric)
    result["window"] = {"start": start.isoformat(), "end": end.isoformat(), "capture_files": files}
    out.mkdir(parents=True, exist_ok=True)
    (out / "drift.json").write_text(json.dumps(result, indent=1))
    publish(cloudwatch, cloudwatch_metrics(result, team=team, model=model, stage=stage), now)
    return result


def batch_frame(s3, input_uri: str, output_uri: str, columns: list[str]) -> tuple[pd.DataFrame, int]:
    """The records of a transform run: input object `<prefix>/<key>` answered in `<output>/<key>.out`."""
    in_bucket, in_prefix = split_s3(input_uri)
    out_bucket, out_prefix = split_s3(output_uri)
    in_prefix, out_prefix = in_prefix.rstrip("/") + "/", out_prefix.rstrip("/") + "/"
    keys = sorted(item["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=in_bucket, Prefix=in_prefix)
                  for item in page.get("Contents", []) if not item["Key"].endswith("/"))
    records = []
    for key in keys:
        inputs = s3.get_object(Bucket=in_bucket, Key=key)["Body"].read().decode("utf-8")
        answer_key = out_prefix + key[len(in_prefix):] + ".out"
        try:
            answers = s3.get_object(Bucket=out_bucket, Key=answer_key)["Body"].read().decode("utf-8")
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise DriftError(f"s3://{in_bucket}/{key} has no answer at s3://{out_bucket}/{answer_key}") from None
            raise
        rows = rows_of(inputs, "text/csv", columns)
        scores = rows_of(answers, "text/csv", [])
        if len(scores) != len(rows):
            raise DriftError(f"s3://{out_bucket}/{answer_key} has {len(scores)} answers for {len(rows)} input lines")
        records += [{**row, "__score": score["value"]} for row, score in zip(rows, scores)]
    frame = pd.DataFrame.from_records(records, columns=[*columns, "__score"])
    for column in [*columns, "__score"]:
        frame[column] = _numeric(frame[column])
    return frame, len(keys)


def monitor_batch(*, s3, cloudwatch, baseline: dict, input_uri: str, output_uri: str, out: Path, team: str,
                  model: str, stage: str, now: datetime, threshold: float = DEFAULT_THRESHOLD,
                  min_records: int = DEFAULT_MIN_RECORDS) -> dict:
    """One batch run: its inputs and answers -> drift.json -> CloudWatch, with the stage's dimensions."""
    frame, files = batch_frame(s3, input_uri, output_uri, list(baseline["features"]))
    result = report(baseline, frame, threshold=threshold, min_records=min_records)
    result["batch"] = {"input_uri": input_uri, "output_uri": output_uri, "files": files}
    out.mkdir(parents=True, exist_ok=True)
    (out / "drift.json").write_text(json.dumps(result, indent=1))
    publish(cloudwatch, cloudwatch_metrics(result, team=team, model=model, stage=stage), now)
    return result


# --- command line ---------------------------------------------------------------------------------------

def load_baseline(path: Path) -> dict:
    baseline_file = path / "baseline.json" if path.is_dir() else path
    if not baseline_file.exists():
        raise DriftError(f"no baseline.json at {path}")
    try:
        baseline = json.loads(baseline_file.read_text())
    except ValueError as error:
        raise DriftError(f"{baseline_file} is not JSON ({error})") from None
    if not isinstance(baseline, dict) or not isinstance(baseline.get("features"), dict):
        raise DriftError(f"{baseline_file} is not a drift baseline (no features)")
    return baseline


def summary(result: dict, out: Path) -> str:
    drifted = [name for name, f in result["features"].items() if f["drifted"]]
    return (f"drift: {result['records']} records; "
            + ("too few to judge" if not result["sufficient"] else f"drifted: {', '.join(drifted) or 'none'}")
            + f" -> {out / 'drift.json'}")


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
    rep.add_argument("--ground-truth", type=Path)
    mon = commands.add_parser("monitor", help="the scheduled job: the window's capture from S3 -> drift.json, "
                                               "CloudWatch metrics")
    mon.add_argument("--capture-uri", required=True, help="s3:// prefix of the endpoint's data capture")
    mon.add_argument("--baseline", type=Path, required=True)
    mon.add_argument("--out", type=Path, required=True)
    mon.add_argument("--window-hours", type=int, required=True)
    for name in ("team", "model", "stage"):
        mon.add_argument(f"--{name}", required=True)
    mon.add_argument("--ground-truth-uri")
    mon.add_argument("--skip-uri", action="append", default=[], help="capture not to judge (a shadow variant's)")
    bat = commands.add_parser("batch", help="one Batch Transform run: its inputs and answers from S3")
    bat.add_argument("--input-uri", required=True)
    bat.add_argument("--output-uri", required=True, help="the run's S3OutputPath (<object>.out per input object)")
    bat.add_argument("--baseline", type=Path, required=True)
    bat.add_argument("--out", type=Path, required=True)
    for name in ("team", "model", "stage"):
        bat.add_argument(f"--{name}", required=True)
    for command in (rep, mon, bat):
        command.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
        command.add_argument("--min-records", type=int, default=DEFAULT_MIN_RECORDS)
        command.add_argument("--problem-type", default="binary_classification")
        command.add_argument("--metric", default="auc")
    args = parser.parse_args(argv)
    try:
        if args.command == "monitor":
            import boto3
            from botocore.config import Config

            retries = Config(retries={"mode": "standard", "max_attempts": 5})
            result = monitor(s3=boto3.client("s3", config=retries), cloudwatch=boto3.client("cloudwatch", config=retries),
                             baseline=load_baseline(args.baseline), capture_uri=args.capture_uri, out=args.out,
                             window_hours=args.window_hours, team=args.team, model=args.model, stage=args.stage,
                             now=datetime.now(timezone.utc), ground_truth_uri=args.ground_truth_uri,
                             skip=tuple(args.skip_uri),
                             threshold=args.threshold, min_records=args.min_records,
                             problem_type=args.problem_type, metric=args.metric)
            print(summary(result, args.out))
            return 0
        if args.command == "batch":
            import boto3
            from botocore.config import Config

            retries = Config(retries={"mode": "standard", "max_attempts": 5})
            result = monitor_batch(s3=boto3.client("s3", config=retries),
                                   cloudwatch=boto3.client("cloudwatch", config=retries),
                                   baseline=load_baseline(args.baseline), input_uri=args.input_uri,
                                   output_uri=args.output_uri, out=args.out, team=args.team, model=args.model,
                                   stage=args.stage, now=datetime.now(timezone.utc), threshold=args.threshold,
                                   min_records=args.min_records)
            print(summary(result, args.out))
            return 0
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
            baseline = load_baseline(args.baseline)
            frame = read_capture_dir(args.capture, list(baseline["features"]))
            truth = read_ground_truth(args.ground_truth) if args.ground_truth else None
            result = report(baseline, frame, threshold=args.threshold, min_records=args.min_records, truth=truth,
                            problem_type=args.problem_type, metric=args.metric)
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / "drift.json").write_text(json.dumps(result, indent=1))
            print(summary(result, args.out))
    except DriftError as error:
        print(f"drift: {error}", file=sys.stderr)
        return 1
    except (BotoCoreError, ClientError) as error:  # an AWS call of the scheduled job: one line, the run fails
        print(f"drift: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
