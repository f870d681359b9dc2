"""The factory's drift and quality engine (pipelines/modelbuild/code/drift.py) on data-capture records in the
documented format (SageMaker developer guide, "Capture data": captureData.endpointInput/endpointOutput with
observedContentType, mode, data, encoding; eventMetadata.eventId, inferenceTime; eventVersion)."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone

import boto3

import drift
import numpy as np
import pandas as pd
import pytest
from moto import mock_aws

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
    dimensions = [{"Name": "Team", "Value": "fraud"}, {"Name": "Model", "Value": "card-fraud"},
                  {"Name": "Stage", "Value": "prod"}]
    assert metrics[:2] == [{"MetricName": "MonitorRuns", "Value": 1, "Unit": "Count", "Dimensions": dimensions},
                           {"MetricName": "DriftRecords", "Value": 600, "Unit": "Count", "Dimensions": dimensions}]
    assert {m["Dimensions"][-1]["Value"] for m in metrics if m["MetricName"] == "FeatureDrift"} == set(FEATURES)


# --- the scheduled job (drift.py monitor) under moto -----------------------------------------------------
# Data capture writes s3://<destination>/<endpoint>/<variant>/yyyy/mm/dd/hh/<file>.jsonl (SageMaker developer
# guide, "Capture data from real-time endpoint"); ground truth goes under <uri>/yyyy/mm/dd/hh/ (developer guide,
# "Ingest ground truth labels and merge them with predictions").

BUCKET = "mf-fraud-111111111111-eu-west-1"
CAPTURE = f"s3://{BUCKET}/data-capture/mf-fraud-card-fraud-prod/"
NOW = datetime(2026, 12, 1, 9, 5, tzinfo=timezone.utc)


@pytest.fixture
def aws():
    with mock_aws():
        s3 = boto3.client("s3", region_name="eu-west-1")
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        yield s3, boto3.client("cloudwatch", region_name="eu-west-1")


def put_capture(s3, hour: str, frame: pd.DataFrame, first_event: int = 0, batch: int = 1,
                variant: str = "AllTraffic") -> None:
    scores = np.clip(frame["amount"].to_numpy() / 1000, 0, 1)
    body = "\n".join(capture_line(frame.iloc[i:i + batch][FEATURES], scores[i:i + batch], f"e-{first_event + i}")
                     for i in range(0, len(frame), batch))
    s3.put_object(Bucket=BUCKET, Key=f"data-capture/mf-fraud-card-fraud-prod/mf-fraud-card-fraud-prod/{variant}/"
                                     f"{hour}/12-34-567-abc.jsonl", Body=body.encode())


def published(cloudwatch) -> dict[str, list[dict]]:
    metrics: dict[str, list[dict]] = {}
    for metric in cloudwatch.list_metrics(Namespace="ModelFactory")["Metrics"]:
        metrics.setdefault(metric["MetricName"], []).append({d["Name"]: d["Value"] for d in metric["Dimensions"]})
    return metrics


def run(s3, cloudwatch, baseline, tmp_path, **kwargs):
    return drift.monitor(s3=s3, cloudwatch=cloudwatch, baseline=baseline, capture_uri=CAPTURE, out=tmp_path,
                         window_hours=kwargs.pop("window_hours", 1), team="fraud", model="card-fraud", stage="prod",
                         now=NOW, **kwargs)


def test_the_job_reads_only_the_windows_hours_and_publishes_drift(aws, baseline, tmp_path):
    s3, cloudwatch = aws
    put_capture(s3, "2026/12/01/07", DATA.iloc[12000:12500], 0)       # before the window
    put_capture(s3, "2026/12/01/08", DATA.iloc[12500:12800], 1000)    # the window: 08:00-09:00
    put_capture(s3, "2026/12/01/09", DATA.iloc[12800:12900], 2000)    # the current hour, still being written
    result = run(s3, cloudwatch, baseline, tmp_path)
    assert result["records"] == 300 and result["window"] == {
        "start": "2026-12-01T08:00:00+00:00", "end": "2026-12-01T09:00:00+00:00", "capture_files": 1}
    assert json.loads((tmp_path / "drift.json").read_text()) == result
    metrics = published(cloudwatch)
    assert {m["Feature"] for m in metrics["FeatureDrift"]} == set(FEATURES)
    assert metrics["MonitorRuns"] == metrics["DriftRecords"] == metrics["ScoreDrift"] == [
        {"Team": "fraud", "Model": "card-fraud", "Stage": "prod"}]


def test_the_shadow_variants_capture_is_skipped(aws, baseline, tmp_path):
    s3, cloudwatch = aws
    put_capture(s3, "2026/12/01/08", DATA.iloc[12000:12300], 0)
    put_capture(s3, "2026/12/01/08", DATA.iloc[12300:12500], 1000, variant="Shadow")
    shadow = f"{CAPTURE}mf-fraud-card-fraud-prod/Shadow/"
    assert run(s3, cloudwatch, baseline, tmp_path)["records"] == 500
    assert run(s3, cloudwatch, baseline, tmp_path, skip=(shadow,))["records"] == 300


def test_a_window_below_min_records_publishes_the_run_and_count_but_no_drift(aws, baseline, tmp_path):
    s3, cloudwatch = aws
    put_capture(s3, "2026/12/01/08", DATA.iloc[12000:12100])
    result = run(s3, cloudwatch, baseline, tmp_path, min_records=200)
    assert (result["records"], result["sufficient"], result["features"]) == (100, False, {})
    assert set(published(cloudwatch)) == {"MonitorRuns", "DriftRecords"}


def test_an_empty_window_is_a_run_with_zero_records(aws, baseline, tmp_path):
    s3, cloudwatch = aws
    result = run(s3, cloudwatch, baseline, tmp_path)
    assert (result["records"], result["window"]["capture_files"]) == (0, 0)
    assert set(published(cloudwatch)) == {"MonitorRuns", "DriftRecords"}


def test_ground_truth_of_the_window_gives_the_live_quality(aws, baseline, tmp_path):
    s3, cloudwatch = aws
    live = DATA.iloc[12000:12400]
    put_capture(s3, "2026/12/01/08", live)
    truth = "\n".join(json.dumps({"groundTruthData": {"data": str(label), "encoding": "CSV"},
                                  "eventMetadata": {"eventId": f"e-{i}"}, "eventVersion": "0"})
                      for i, label in enumerate(live["is_fraud"]))
    s3.put_object(Bucket=BUCKET, Key="ground-truth/card-fraud/2026/12/01/08/labels.jsonl", Body=truth.encode())
    result = run(s3, cloudwatch, baseline, tmp_path, ground_truth_uri=f"s3://{BUCKET}/ground-truth/card-fraud",
                 metric="accuracy")
    assert result["quality"]["records"] == 400 and result["quality"]["sufficient"]
    assert published(cloudwatch)["LiveQuality"] == [{"Team": "fraud", "Model": "card-fraud", "Stage": "prod",
                                                     "Metric": "accuracy"}]


def test_a_malformed_ground_truth_line_is_one_error(aws, baseline, tmp_path):
    s3, cloudwatch = aws
    put_capture(s3, "2026/12/01/08", DATA.iloc[12000:12300])
    s3.put_object(Bucket=BUCKET, Key="gt/2026/12/01/08/labels.jsonl", Body=b'{"eventMetadata": {}}')
    with pytest.raises(drift.DriftError, match="ground truth line 1 is not a ground truth record"):
        run(s3, cloudwatch, baseline, tmp_path, ground_truth_uri=f"s3://{BUCKET}/gt/")


def test_a_daily_window_reads_24_hours():
    start, end = drift.window(NOW, 24)
    assert (start.isoformat(), end.isoformat()) == ("2026-11-30T09:00:00+00:00", "2026-12-01T09:00:00+00:00")
    assert drift.in_window("p/e/v/2026/11/30/09/a.jsonl", start, end)
    assert not drift.in_window("p/e/v/2026/12/01/09/a.jsonl", start, end)
    assert not drift.in_window("p/e/v/2026/12/01/08/a.json", start, end)


class RecordingCloudWatch:
    def __init__(self):
        self.calls = []

    def put_metric_data(self, **kwargs):
        self.calls.append(kwargs)


def test_metrics_go_out_in_requests_of_at_most_1000():
    # PutMetricData: "MetricData ... Array Members: Maximum number of 1000 items" (CloudWatch API reference)
    cloudwatch = RecordingCloudWatch()
    drift.publish(cloudwatch, [{"MetricName": "FeatureDrift", "Value": 0.1}] * 2500, NOW)
    assert [len(call["MetricData"]) for call in cloudwatch.calls] == [1000, 1000, 500]
    assert {call["Namespace"] for call in cloudwatch.calls} == {"ModelFactory"}
    assert cloudwatch.calls[0]["MetricData"][0]["Timestamp"] == NOW


def test_the_monitor_command_is_what_the_scheduled_job_runs(aws, baseline, tmp_path, monkeypatch):
    s3, cloudwatch = aws
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    last_hour = drift.window(datetime.now(timezone.utc), 1)[0]
    put_capture(s3, last_hour.strftime("%Y/%m/%d/%H"), DATA.iloc[12000:12300])
    (tmp_path / "baseline").mkdir()
    (tmp_path / "baseline" / "baseline.json").write_text(json.dumps(baseline))
    assert drift.main(["monitor", "--capture-uri", CAPTURE, "--baseline", str(tmp_path / "baseline"),
                       "--out", str(tmp_path / "report"), "--window-hours", "1", "--team", "fraud",
                       "--model", "card-fraud", "--stage", "prod", "--min-records", "200"]) == 0
    assert json.loads((tmp_path / "report" / "drift.json").read_text())["records"] == 300
    assert "FeatureDrift" in published(cloudwatch)


def test_the_monitor_command_fails_in_one_line_on_a_bad_baseline(tmp_path, capsys):
    (tmp_path / "baseline.json").write_text('{"records": 3}')
    assert drift.main(["monitor", "--capture-uri", CAPTURE, "--baseline", str(tmp_path), "--out", str(tmp_path),
                       "--window-hours", "1", "--team", "t", "--model", "m", "--stage", "prod"]) == 1
    assert capsys.readouterr().err == f"drift: {tmp_path / 'baseline.json'} is not a drift baseline (no features)\n"


def test_an_aws_error_of_the_job_is_one_line_and_a_failed_run(aws, tmp_path, capsys, monkeypatch, baseline):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    (tmp_path / "baseline.json").write_text(json.dumps(baseline))
    assert drift.main(["monitor", "--capture-uri", "s3://no-such-bucket/data-capture/x/", "--baseline", str(tmp_path),
                       "--out", str(tmp_path), "--window-hours", "1", "--team", "t", "--model", "m",
                       "--stage", "prod"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("drift: An error occurred (NoSuchBucket) when calling the ListObjectsV2 operation")
    assert err.count("\n") == 1


def test_every_aws_call_of_the_job_fails_the_run_and_publishes_nothing_judged(aws, baseline, tmp_path):
    """A failed read publishes nothing (the missing-run alarm and the failed-run rule tell the approvers);
    a failed publish fails the run the same way (its report is not uploaded: the job fails)."""
    from botocore.exceptions import ClientError

    from tests.helpers import FAULTS, inject_fault

    s3, cloudwatch = aws
    put_capture(s3, "2026/12/01/08", DATA.iloc[12000:12300])
    for client, operation in ((s3, "list_objects_v2"), (s3, "get_object"), (cloudwatch, "put_metric_data")):
        for code, status in FAULTS:
            inject_fault(client, operation, code, status)
            with pytest.raises(ClientError, match=code):
                run(s3, cloudwatch, baseline, tmp_path / operation / code)
    assert published(cloudwatch) == {}


def test_the_job_lists_the_ground_truth_folder_its_role_may_list(aws, baseline, tmp_path):
    """The role allows s3:prefix "<folder>/*" (stacks/monitoring/drift_job_roles.py): the job lists "<folder>/"
    even when the config's URI has no trailing slash."""
    s3, cloudwatch = aws
    listed = []
    s3.meta.events.register("before-parameter-build.s3.ListObjectsV2", lambda params, **_: listed.append(params["Prefix"]))
    run(s3, cloudwatch, baseline, tmp_path, ground_truth_uri=f"s3://{BUCKET}/ground-truth/card-fraud")
    assert listed == ["data-capture/mf-fraud-card-fraud-prod/", "ground-truth/card-fraud/"]


def test_a_window_whose_labels_are_one_class_publishes_no_quality(aws, baseline, tmp_path):
    """AUC is undefined on one class: neither LiveQuality nor QualityRecords goes out, so the quality alarm's
    IF(joined >= min, quality, gate) has no datapoint instead of a 0 that would breach the gate."""
    s3, cloudwatch = aws
    live = DATA.iloc[12000:12400]
    put_capture(s3, "2026/12/01/08", live)
    truth = "\n".join(json.dumps({"groundTruthData": {"data": "0", "encoding": "CSV"},
                                  "eventMetadata": {"eventId": f"e-{i}"}, "eventVersion": "0"}) for i in range(400))
    s3.put_object(Bucket=BUCKET, Key="gt/2026/12/01/08/labels.jsonl", Body=truth.encode())
    result = run(s3, cloudwatch, baseline, tmp_path, ground_truth_uri=f"s3://{BUCKET}/gt", metric="auc")
    assert result["quality"]["records"] == 400 and np.isnan(result["quality"]["value"])
    assert not {"LiveQuality", "QualityRecords"} & set(published(cloudwatch))


# --- a Batch Transform run judged like captured traffic ---------------------------------------------------
# CreateTransformJob with SplitType Line and AssembleWith Line writes, for each input object <key>, the object
# <S3OutputPath>/<key>.out with one answer line per input line (SageMaker developer guide, "Batch transform":
# "the output file has the same name with .out appended").
BATCH_IN, BATCH_OUT = f"s3://{BUCKET}/scoring/in", f"s3://{BUCKET}/batch/out/run-1"


def put_batch(s3, name: str, frame: pd.DataFrame, answers: int | None = None) -> None:
    s3.put_object(Bucket=BUCKET, Key=f"scoring/in/{name}",
                  Body=frame[FEATURES].to_csv(header=False, index=False).encode())
    scores = np.clip(frame["amount"].to_numpy() / 1000, 0, 1)[: answers if answers is not None else len(frame)]
    s3.put_object(Bucket=BUCKET, Key=f"batch/out/run-1/{name}.out", Body="\n".join(f"{v:.4f}" for v in scores).encode())


def test_a_batch_run_is_judged_on_its_inputs_and_answers(aws, baseline, tmp_path):
    s3, cloudwatch = aws
    put_batch(s3, "day-1.csv", DATA.iloc[12000:12300])
    shifted = DATA.iloc[12300:12600].copy()
    shifted["amount"] = shifted["amount"] * 5
    put_batch(s3, "day-2.csv", shifted)
    result = drift.monitor_batch(s3=s3, cloudwatch=cloudwatch, baseline=baseline, input_uri=BATCH_IN,
                                 output_uri=BATCH_OUT, out=tmp_path, team="pricing", model="demand-forecast",
                                 stage="prod", now=NOW)
    assert result["records"] == 600 and result["batch"]["files"] == 2
    assert result["features"]["amount"]["drifted"] and result["score"] is not None
    assert {"Team": "pricing", "Model": "demand-forecast", "Stage": "prod", "Feature": "amount"} in published(
        cloudwatch)["FeatureDrift"]
    assert json.loads((tmp_path / "drift.json").read_text())["records"] == 600


def test_a_batch_answer_missing_or_short_is_one_error(aws, baseline, tmp_path):
    s3, cloudwatch = aws
    put_batch(s3, "day-1.csv", DATA.iloc[:10], answers=9)
    with pytest.raises(drift.DriftError, match=r"day-1.csv.out has 9 answers for 10 input lines"):
        drift.batch_frame(s3, BATCH_IN, BATCH_OUT, FEATURES)
    s3.delete_object(Bucket=BUCKET, Key="scoring/in/day-1.csv")
    s3.put_object(Bucket=BUCKET, Key="scoring/in/day-2.csv", Body=b"1,2")
    with pytest.raises(drift.DriftError, match=r"scoring/in/day-2.csv has no answer at .*day-2.csv.out"):
        drift.batch_frame(s3, BATCH_IN, BATCH_OUT, FEATURES)


def test_every_aws_call_of_a_batch_run_fails_it_and_publishes_nothing(aws, baseline, tmp_path):
    from botocore.exceptions import ClientError

    from tests.helpers import FAULTS, inject_fault

    s3, cloudwatch = aws
    put_batch(s3, "day-1.csv", DATA.iloc[12000:12300])
    # the input read, then the answer read (after one get_object that goes through), the listing, the publish
    for client, operation, after in ((s3, "get_object", 0), (s3, "get_object", 1), (s3, "list_objects_v2", 0),
                                     (cloudwatch, "put_metric_data", 0)):
        for code, status in FAULTS:
            inject_fault(client, operation, code, status, after=after)
            with pytest.raises(ClientError, match=code):
                drift.monitor_batch(s3=s3, cloudwatch=cloudwatch, baseline=baseline, input_uri=BATCH_IN,
                                    output_uri=BATCH_OUT, out=tmp_path / operation / code, team="fraud",
                                    model="card-fraud", stage="prod", now=NOW)
    assert published(cloudwatch) == {}
