"""Failed monitoring executions of a team's schedules reach the approvers."""

from __future__ import annotations

from tests.helpers import only as single

FRAUD_ACCOUNT = "111111111111"


def test_failed_monitoring_executions_of_the_teams_schedules_notify_the_approvers(fraud):
    topic_id, _ = single(fraud, "AWS::SNS::Topic")
    _, rule = single(fraud, "AWS::Events::Rule", {"Name": "mf-fraud-monitoring-failures"})
    assert rule["Properties"]["EventPattern"] == {
        "source": ["aws.sagemaker"],
        "detail-type": ["SageMaker Processing Job State Change"],
        "detail": {"ProcessingJobStatus": ["Failed"], "MonitoringScheduleArn": [
            {"prefix": f"arn:aws:sagemaker:eu-west-1:{FRAUD_ACCOUNT}:monitoring-schedule/mf-fraud-"}]},
    }
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Ref": topic_id}
    assert target["InputTransformer"]["InputPathsMap"] == {
        "detail-ProcessingJobName": "$.detail.ProcessingJobName",
        "detail-MonitoringScheduleArn": "$.detail.MonitoringScheduleArn",
        "detail-FailureReason": "$.detail.FailureReason"}
    assert "failed: <detail-FailureReason>" in target["InputTransformer"]["InputTemplate"]


