"""The factory's drift and quality engine (pipelines/modelbuild/code/drift.py) on data-capture records in the
documented format (SageMaker developer guide, "Capture data": captureData.endpointInput/endpointOutput with
observedContentType, mode, data, encoding; eventMetadata.eventId, inferenceTime; eventVersion)."""

from __future__ import annotations

import base64
import json

import drift
import numpy as np
import pandas as pd
import pytest

from tests.pipelines.conftest import SEED

DATA = pd.read_csv(SEED / "data" / "transactions.csv")
FEATURES = [c for c in DATA.columns if c != "is_fraud"]


def capture_line(rows: pd.DataFrame, scores, event_id: str, encoding: str = "CSV",
                 content_type: str = "text/csv") -> str:
    if content_type == "application/json":
        body = json.dumps({"instances": rows.to_dict(orient="records")})
    else:
        body = rows.to_csv(header=False, index=False).strip()
    output = "\n".join(f"{s:.6f}" for s in scores)
    if encoding == "BASE64":
        body, output = base64.b64encode(body.encode()).decode(), base64.b64encode(output.encode()).decode()
    return json.dumps({
        "captureData": {
            "endpointInput": {"observedContentType": content_type, "mode": "INPUT", "data": body, "encoding": encoding},
            "endpointOutput": {"observedContentType": "text/csv", "mode": "OUTPUT", "data": output,
                               "encoding": encoding}},
        "eventMetadata": {"eventId": event_id, "inferenceTime": "2026-12-01T08:00:00Z"},
        "eventVersion": "0"})


def captured(frame: pd.DataFrame, batch: int = 5, **kwargs) -> pd.DataFrame:
    scores = np.clip(frame["amount"].to_numpy() / 1000, 0, 1)
    lines = [capture_line(frame.iloc[i:i + batch][FEATURES], scores[i:i + batch], f"e-{i}", **kwargs)
             for i in range(0, len(frame), batch)]
    return drift.parse_capture(lines, FEATURES)


@pytest.fixture(scope="module")
def baseline() -> dict:
    train = DATA.iloc[:12000]
    return drift.build_baseline(train[FEATURES], np.clip(train["amount"].to_numpy() / 1000, 0, 1))


def test_a_shifted_feature_is_found_and_the_unshifted_ones_are_not(baseline):
    live = DATA.iloc[12000:14000].copy()
    same = drift.report(baseline, captured(live))
    assert same["sufficient"] and not any(f["drifted"] for f in same["features"].values())
    live["amount"] = live["amount"] * 3  # prices tripled
    live["online"] = 1  # every purchase now online
    shifted = drift.report(baseline, captured(live))
    drifted = sorted(name for name, f in shifted["features"].items() if f["drifted"])
    assert drifted == ["amount", "online"]
    assert shifted["features"]["amount"]["ks"] > 0.3 and shifted["features"]["hour"]["ks"] < 0.1
    assert shifted["score"]["drifted"]


def test_too_few_records_are_not_judged(baseline):
    result = drift.report(baseline, captured(DATA.iloc[12000:12050]), min_records=200)
    assert result == {"records": 50, "min_records": 200, "sufficient": False, "features": {}, "score": None,
                      "quality": None}


@pytest.mark.parametrize(("encoding", "content_type"), [("CSV", "text/csv"), ("BASE64", "text/csv"),
                                                        ("JSON", "application/json")])
def test_the_parser_reads_csv_json_and_base64_payloads(encoding, content_type):
    rows = DATA.iloc[:7]
    frame = captured(rows, batch=3, encoding=encoding, content_type=content_type)
    assert len(frame) == 7
    assert frame["amount"].tolist() == pytest.approx(rows["amount"].tolist())
    assert frame["__event_id"].tolist() == ["e-0"] * 3 + ["e-3"] * 3 + ["e-6"]
    assert frame["__score"].tolist() == pytest.approx(np.clip(rows["amount"] / 1000, 0, 1).round(6).tolist())


def test_a_line_that_is_not_a_capture_record_is_one_error():
    with pytest.raises(drift.DriftError, match="capture line 2 is not a data capture record"):
        drift.parse_capture([capture_line(DATA.iloc[:1][FEATURES], [0.1], "e"), '{"nothing": 1}'], FEATURES)


def test_quality_joins_predictions_with_ground_truth_by_event_id(baseline):
    live = DATA.iloc[12000:12400]
    frame = captured(live, batch=1)
    truth = {f"e-{i}": float(label) for i, label in enumerate(live["is_fraud"])}
    result = drift.report(baseline, frame, truth=truth, metric="accuracy")
    assert result["quality"]["records"] == 400 and result["quality"]["metric"] == "accuracy"
    expected = float(((np.clip(live["amount"] / 1000, 0, 1) >= 0.5).astype(int) == live["is_fraud"]).mean())
    assert result["quality"]["value"] == pytest.approx(expected)


def test_the_command_writes_drift_json_and_cloudwatch_figures(tmp_path, baseline):
    (tmp_path / "baseline").mkdir()
    (tmp_path / "baseline" / "baseline.json").write_text(json.dumps(baseline))
    capture = tmp_path / "capture" / "mf-fraud-card-fraud-prod" / "g5-xlarge" / "2026" / "12" / "01" / "08"
    capture.mkdir(parents=True)
    live = DATA.iloc[12000:12600]
    scores = np.clip(live["amount"].to_numpy() / 1000, 0, 1)
    (capture / "capture.jsonl").write_text("\n".join(
        capture_line(live.iloc[i:i + 10][FEATURES], scores[i:i + 10], f"e-{i}") for i in range(0, 600, 10)))
    assert drift.main(["report", "--capture", str(tmp_path / "capture"), "--baseline", str(tmp_path / "baseline"),
                       "--out", str(tmp_path / "out")]) == 0
    result = json.loads((tmp_path / "out" / "drift.json").read_text())
    assert result["records"] == 600 and set(result["features"]) == set(FEATURES)
    assert result["features"]["amount"] == {**result["features"]["amount"], "statistic": "psi", "threshold": 0.2}
    metrics = drift.cloudwatch_metrics(result, team="fraud", model="card-fraud", stage="prod")
    assert metrics[0] == {"MetricName": "DriftRecords", "Value": 600, "Unit": "Count", "Dimensions": [
        {"Name": "Team", "Value": "fraud"}, {"Name": "Model", "Value": "card-fraud"}, {"Name": "Stage", "Value": "prod"}]}
    assert {m["Dimensions"][-1]["Value"] for m in metrics if m["MetricName"] == "FeatureDrift"} == set(FEATURES)
