"""The approval hook's handler under moto: registry, deploy pipeline, DynamoDB, SNS, SSM."""

from __future__ import annotations

import copy
import importlib
import json
import sys

import boto3
import pytest
from moto import mock_aws

from tests.helpers import FAULTS, Context, inject_fault
from tests.synth import ROOT

HOOK = ROOT / "lambdas" / "approval_hook"
EVENT = json.loads((ROOT / "tests" / "fixtures" / "events" / "model-package-approved.json").read_text())
REGION, ACCOUNT, TEAM, GROUP = "eu-west-1", "123456789012", "fraud", "mf-fraud-card-fraud"
TABLE = "mf-fraud-approval-idempotency"
AUDIT = "mf-fraud-approval-audit"


@pytest.fixture
def aws(monkeypatch):
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(TableName=TABLE, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                              AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                              BillingMode="PAY_PER_REQUEST")
        dynamodb.create_table(TableName=AUDIT, KeySchema=[{"AttributeName": "subject", "KeyType": "HASH"},
                                                         {"AttributeName": "at", "KeyType": "RANGE"}],
                              AttributeDefinitions=[{"AttributeName": "subject", "AttributeType": "S"},
                                                    {"AttributeName": "at", "AttributeType": "S"}],
                              BillingMode="PAY_PER_REQUEST")
        sns = boto3.client("sns", region_name=REGION)
        topic = sns.create_topic(Name="mf-fraud-approvers")["TopicArn"]
        sqs = boto3.client("sqs", region_name=REGION)
        inbox = sqs.create_queue(QueueName="approvers-inbox")["QueueUrl"]
        inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=inbox_arn, Attributes={"RawMessageDelivery": "true"})
        sagemaker = boto3.client("sagemaker", region_name=REGION)
        sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
        codepipeline = boto3.client("codepipeline", region_name=REGION)
        iam = boto3.client("iam", region_name=REGION)
        role = iam.create_role(RoleName="pipeline", AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                    "Principal": {"Service": "codepipeline.amazonaws.com"}}]}))
        codepipeline.create_pipeline(pipeline={
            "name": f"{GROUP}-deploy", "roleArn": role["Role"]["Arn"], "pipelineType": "V2",
            "artifactStore": {"type": "S3", "location": "bucket"},
            "variables": [{"name": "ModelPackageArn", "defaultValue": "none"}],
            "stages": [
                {"name": "Source", "actions": [{"name": "Source", "actionTypeId": {
                    "category": "Source", "owner": "AWS", "provider": "S3", "version": "1"},
                    "configuration": {"S3Bucket": "b", "S3ObjectKey": "k", "PollForSourceChanges": "false"},
                    "outputArtifacts": [{"name": "src"}]}]},
                {"name": "Validate", "actions": [{"name": "Validate", "actionTypeId": {
                    "category": "Build", "owner": "AWS", "provider": "CodeBuild", "version": "1"},
                    "configuration": {"ProjectName": "p"}, "inputArtifacts": [{"name": "src"}]}]},
            ]})
        for name, value in {
            "IDEMPOTENCY_TABLE_NAME": TABLE, "AUDIT_TABLE_NAME": AUDIT, "NOTIFICATION_TOPIC_ARN": topic, "TEAM": TEAM,
            "MODEL_PACKAGE_GROUPS": json.dumps([GROUP]), "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_NAMESPACE": "ModelFactory", "AWS_DEFAULT_REGION": REGION,
        }.items():
            monkeypatch.setenv(name, value)
        monkeypatch.syspath_prepend(str(HOOK))
        for module in ("app", "approval", "audit"):
            sys.modules.pop(module, None)
        app = importlib.import_module("app")
        yield {"app": app, "sagemaker": sagemaker, "codepipeline": codepipeline, "ssm": boto3.client("ssm", region_name=REGION),
               "sqs": sqs, "inbox": inbox}
        for module in ("app", "approval"):
            sys.modules.pop(module, None)


def register(aws, status: str) -> str:
    return aws["sagemaker"].create_model_package(
        ModelPackageGroupName=GROUP, ModelApprovalStatus=status,
        InferenceSpecification={"Containers": [{"Image": "img", "ModelDataUrl": "s3://b/model.tar.gz"}],
                                "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]},
    )["ModelPackageArn"]


def event(arn: str, status: str, group: str = GROUP, fields=("ModelApprovalStatus",),
          modified: int = 1795683300000) -> dict:
    """The documented event: the package's current state, the fields the update changed, when."""
    copied = copy.deepcopy(EVENT)
    copied["detail"].update(ModelPackageArn=arn, ModelApprovalStatus=status, ModelPackageGroupName=group,
                            ModelPackageVersion=int(arn.rsplit("/", 1)[1]), LastModifiedTime=modified)
    if fields is None:
        copied["detail"].pop("UpdatedModelPackageFields")
    else:
        copied["detail"]["UpdatedModelPackageFields"] = list(fields)
    return copied


def executions(aws) -> list[dict]:
    summaries = aws["codepipeline"].list_pipeline_executions(pipelineName=f"{GROUP}-deploy")["pipelineExecutionSummaries"]
    return summaries


def variables_of(aws) -> list[dict]:
    """The variables of every deploy execution, oldest first."""
    found = []
    for summary in reversed(executions(aws)):
        execution = aws["codepipeline"].get_pipeline_execution(
            pipelineName=f"{GROUP}-deploy", pipelineExecutionId=summary["pipelineExecutionId"])["pipelineExecution"]
        found.append({v["name"]: v["resolvedValue"] for v in execution.get("variables", [])})
    return found


def started_with(aws) -> list[str]:
    return [v["ModelPackageArn"] for v in variables_of(aws)]


def notifications(aws) -> list[str]:
    messages = aws["sqs"].receive_message(QueueUrl=aws["inbox"], MaxNumberOfMessages=10).get("Messages", [])
    return [m["Body"] for m in messages]


def serving(aws, stage: str, arn: str) -> None:
    aws["ssm"].put_parameter(Name=f"/model-factory/{TEAM}/card-fraud/{stage}/model-package-arn", Value=arn,
                             Type="String", Overwrite=True)


def test_approved_starts_one_execution_with_that_package_even_when_delivered_twice(aws):
    arn = register(aws, "Approved")
    first = aws["app"].handler(event(arn, "Approved"), Context())
    second = aws["app"].handler(event(arn, "Approved"), Context())
    assert first == second and first["action"] == "deploy" and first["package_arn"] == arn
    assert len(executions(aws)) == 1
    assert started_with(aws) == [arn]
    messages = notifications(aws)
    assert len(messages) == 1 and messages[0].startswith("approved: deploying version 1 of mf-fraud-card-fraud")


def test_rejecting_the_prod_version_rolls_back_to_the_version_that_served_before_it(aws):
    first, second, third = register(aws, "Approved"), register(aws, "Approved"), register(aws, "Approved")
    # prod served 1, then 3 (2 was approved but never reached prod); staging already serves 3 too
    for arn in (first, third):
        serving(aws, "prod", arn)
    serving(aws, "staging", second)
    aws["sagemaker"].update_model_package(ModelPackageArn=third, ModelApprovalStatus="Rejected")
    result = aws["app"].handler(event(third, "Rejected"), Context())
    assert result["action"] == "deploy" and result["package_arn"] == first  # not the newest approved (2)
    assert variables_of(aws) == [{"ModelPackageArn": first, "Purpose": "rollback", "SkipStaging": "true",
                                  "SkipProd": "false", "SkipGate": "true"}]
    (message,) = notifications(aws)
    assert message.startswith("rejected version 3 of mf-fraud-card-fraud serves in prod: rolling back to version 1, "
                              "which served prod before it (no smoke test, no manual gate)")


def test_rejected_with_no_earlier_approved_version_notifies_only(aws):
    only = register(aws, "Approved")
    serving(aws, "prod", only)
    aws["sagemaker"].update_model_package(ModelPackageArn=only, ModelApprovalStatus="Rejected")
    result = aws["app"].handler(event(only, "Rejected"), Context())
    assert result["action"] == "notify"
    assert executions(aws) == []
    assert notifications(aws) == [
        "rejected version 1 of mf-fraud-card-fraud serves in prod but no earlier serving version is still approved; "
        "the endpoint is left as it is"]


def test_a_metadata_edit_of_an_approved_package_starts_nothing(aws):
    arn = register(aws, "Approved")
    for fields in (["ApprovalDescription"], ["CustomerMetadataProperties"], ["ModelCard"], []):
        result = aws["app"].handler(event(arn, "Approved", fields=fields, modified=1795690000000), Context())
        assert result["action"] == "ignore" and "is not an approval decision" in result["reason"]
    assert executions(aws) == []


def test_a_package_created_already_approved_deploys(aws):
    arn = register(aws, "Approved")
    assert aws["app"].handler(event(arn, "Approved", fields=None), Context())["action"] == "deploy"


def test_approve_reject_approve_deploys_twice(aws):
    arn = register(aws, "Approved")
    assert aws["app"].handler(event(arn, "Approved", modified=1), Context())["action"] == "deploy"
    aws["app"].handler(event(arn, "Rejected", modified=2), Context())
    assert aws["app"].handler(event(arn, "Approved", modified=3), Context())["action"] == "deploy"
    assert started_with(aws) == [arn, arn]


def test_an_older_approval_after_a_newer_one_starts_nothing(aws):
    older, newer = register(aws, "Approved"), register(aws, "Approved")
    assert aws["app"].handler(event(newer, "Approved"), Context())["action"] == "deploy"
    result = aws["app"].handler(event(older, "Approved"), Context())
    assert result["action"] == "notify"
    assert result["reason"] == ("approved version 1 of mf-fraud-card-fraud is older than version 2, which is "
                                "approved too: not deployed (reject 2 to roll back instead)")
    assert started_with(aws) == [newer]


def test_rejecting_a_package_stops_its_deploy_in_flight(aws):
    """moto has no stop_pipeline_execution and finishes executions at once: Stubber with the documented
    ListPipelineExecutions / GetPipelineExecution shapes (CodePipeline API reference)."""
    from botocore.stub import Stubber

    rejected = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/{GROUP}/4"
    other = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/{GROUP}/5"
    codepipeline = boto3.client("codepipeline", region_name=REGION)
    hook = aws["app"].ApprovalHook(team=TEAM, groups={GROUP}, topic_arn="t", sagemaker=None,
                                   codepipeline=codepipeline, ssm=None, sns=None)
    pipeline = f"{GROUP}-deploy"
    with Stubber(codepipeline) as stub:
        stub.add_response("list_pipeline_executions", {"pipelineExecutionSummaries": [
            {"pipelineExecutionId": "e-1", "status": "InProgress"},
            {"pipelineExecutionId": "e-2", "status": "InProgress"},
            {"pipelineExecutionId": "e-0", "status": "Succeeded"}]}, {"pipelineName": pipeline})
        for execution_id, arn in (("e-1", rejected), ("e-2", other)):
            stub.add_response("get_pipeline_execution", {"pipelineExecution": {
                "pipelineName": pipeline, "pipelineExecutionId": execution_id, "status": "InProgress",
                "variables": [{"name": "ModelPackageArn", "resolvedValue": arn}]}},
                {"pipelineName": pipeline, "pipelineExecutionId": execution_id})
            if arn == rejected:
                stub.add_response("stop_pipeline_execution", {"pipelineExecutionId": "e-1"}, {
                    "pipelineName": pipeline, "pipelineExecutionId": "e-1", "abandon": True,
                    "reason": f"{rejected} was rejected"})
        assert hook._stop_deploys_of(GROUP, rejected) == ["e-1"]
        stub.assert_no_pending_responses()


def test_rejected_package_that_is_not_serving_changes_nothing(aws):
    serving(aws, "prod", register(aws, "Approved"))
    rejected = register(aws, "Rejected")
    result = aws["app"].handler(event(rejected, "Rejected"), Context())
    assert result["action"] == "notify" and executions(aws) == []
    assert "is not serving in any stage" in notifications(aws)[0]


@pytest.mark.parametrize("mutate", [
    lambda e: e["detail"].pop("ModelPackageArn"),
    lambda e: e["detail"].update(ModelPackageArn="not-an-arn"),
    lambda e: e.pop("detail"),
    lambda e: e.update(detail="text"),
])
def test_malformed_event_starts_nothing(aws, mutate):
    bad = copy.deepcopy(EVENT)
    mutate(bad)
    result = aws["app"].handler(bad, Context())
    assert result == {"action": "ignore", "reason": "malformed event"}
    assert executions(aws) == []


def test_foreign_group_starts_nothing_and_notifies_nobody(aws):
    arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/mf-pricing-demand-forecast/1"
    result = aws["app"].handler(event(arn, "Approved", group="mf-pricing-demand-forecast"), Context())
    assert result["action"] == "ignore" and "does not belong to team fraud" in result["reason"]
    assert executions(aws) == [] and notifications(aws) == []


def test_pending_status_needs_no_action(aws):
    arn = register(aws, "PendingManualApproval")
    result = aws["app"].handler(event(arn, "PendingManualApproval"), Context())
    assert result["action"] == "ignore" and executions(aws) == []


def test_an_automatic_promotion_passes_the_prod_gate_only_where_the_model_says_so(aws, monkeypatch):
    arn = register(aws, "Approved")
    promoted = event(arn, "Approved")
    promoted["detail"]["ApprovalDescription"] = "auto-promoted: auc 0.9612 vs champion 0.9575 (+0.0037)"
    hook = aws["app"].hook()
    assert hook.handle(aws["app"].PackageStateChange.model_validate(promoted["detail"])).action == "deploy"
    assert variables_of(aws)[-1]["SkipGate"] == "false"  # prod_gate: manual (the default)
    hook.auto_prod_gate = {GROUP}
    promoted["detail"]["LastModifiedTime"] += 1
    outcome = hook.handle(aws["app"].PackageStateChange.model_validate(promoted["detail"]))
    assert outcome.reason.startswith("auto-promoted: deploying version 1 of mf-fraud-card-fraud to staging, then prod "
                                     "without the manual gate")
    assert variables_of(aws)[-1] == {"ModelPackageArn": arn, "Purpose": "deploy", "SkipStaging": "false",
                                     "SkipProd": "false", "SkipGate": "true"}
    # a person's approval of the same model still meets the gate
    manual = event(arn, "Approved", modified=1795699999999)
    manual["detail"]["ApprovalDescription"] = "looks good"
    hook.handle(aws["app"].PackageStateChange.model_validate(manual["detail"]))
    assert variables_of(aws)[-1]["SkipGate"] == "false"


def audit_entries(aws, subject: str) -> list[dict]:
    items = boto3.client("dynamodb", region_name=REGION).query(
        TableName=AUDIT, KeyConditionExpression="subject = :s",
        ExpressionAttributeValues={":s": {"S": subject}})["Items"]
    return [{k: v["S"] for k, v in item.items()} for item in items]


def test_the_audit_log_records_who_decided_and_what_the_hook_did(aws):
    """From the documented "AWS API Call via CloudTrail" event (CloudTrail userIdentity and requestParameters
    of UpdateModelPackage and PutApprovalResult)."""
    arn = register(aws, "Approved")
    call = json.loads((ROOT / "tests" / "fixtures" / "events" / "cloudtrail-update-model-package.json").read_text())
    assert aws["app"].handler(call, Context())["action"] == "audit"
    assert aws["app"].handler(call, Context())["action"] == "audit"  # a duplicate delivery is the same entry
    aws["app"].handler(event(arn, "Approved"), Context())
    entries = audit_entries(aws, arn)
    assert len(entries) == 2
    person = next(e for e in entries if e["action"] == "status-change")
    assert (person["who"], person["old_status"], person["new_status"]) == (
        "arn:aws:sts::123456789012:assumed-role/ml-approver/ana@example.com", "PendingManualApproval", "Approved")
    hook = next(e for e in entries if e["action"] == "deploy")
    assert hook["execution_id"] == executions(aws)[0]["pipelineExecutionId"] and hook["version"] == "1"
    gate = json.loads((ROOT / "tests" / "fixtures" / "events" / "cloudtrail-put-approval-result.json").read_text())
    assert aws["app"].handler(gate, Context())["reason"] == (
        "PutApprovalResult by arn:aws:sts::123456789012:assumed-role/ml-approver/ana@example.com recorded")
    (click,) = audit_entries(aws, "mf-fraud-card-fraud-deploy")
    assert (click["gate"], click["result"], click["summary"]) == ("ApproveProd/ApproveProd", "Approved",
                                                                  "metrics are better")


def test_a_refused_call_records_nothing(aws):
    call = json.loads((ROOT / "tests" / "fixtures" / "events" / "cloudtrail-update-model-package.json").read_text())
    call["detail"]["errorCode"] = "AccessDenied"
    assert aws["app"].handler(call, Context())["action"] == "ignore"


def test_every_client_retries_throttling_in_standard_mode(aws):
    """Standard mode retries throttling and transient errors with backoff; botocore's default is legacy mode
    (boto3 guide "Retries": https://boto3.amazonaws.com/v1/documentation/api/latest/guide/retries.html)."""
    hook, audit = aws["app"].hook(), aws["app"].audit()
    # the idempotency layer's DynamoDB client too (made on first use, not at import)
    for client in (hook.sagemaker, hook.codepipeline, hook.ssm, hook.sns, audit.dynamodb,
                   aws["app"].persistence().client):
        assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": 5}


def test_a_failed_idempotency_write_starts_nothing_and_the_retry_deploys_once(aws):
    """Powertools saves the in-progress record before the hook acts: if that write fails, nothing started."""
    from botocore.exceptions import ClientError

    deployed = []
    for code, status in FAULTS:
        arn = register(aws, "Approved")
        inject_fault(aws["app"].persistence().client, "put_item", code, status)
        with pytest.raises(Exception) as caught:
            aws["app"].handler(event(arn, "Approved"), Context())
        assert code in repr(caught.value) or isinstance(caught.value.__cause__, ClientError), code
        assert started_with(aws) == deployed, code
        assert aws["app"].handler(event(arn, "Approved"), Context())["action"] == "deploy"
        deployed.append(arn)
        assert started_with(aws) == deployed, code


# --- every AWS call fails well (fault matrix) ------------------------------------------------------
# What a failed call does, once botocore's retries are spent (docs/approval-and-deploy.md, "When an AWS call
# fails"): a call before the deploy starts fails the event, so the idempotency record is not kept and
# Lambda's retry acts on it once; a failed notification or audit entry after the start is said in the
# outcome, and a redelivery starts nothing more. Each test tries every fault of FAULTS in turn on one moto
# account (a fresh package per fault).

@pytest.mark.parametrize("client, operation", [("sagemaker", "list_model_packages"),
                                               ("codepipeline", "start_pipeline_execution")])
def test_an_approval_whose_call_fails_starts_nothing_and_its_retry_deploys_once(aws, client, operation):
    from botocore.exceptions import ClientError

    deployed = []
    for code, status in FAULTS:
        arn = register(aws, "Approved")
        inject_fault(getattr(aws["app"].hook(), client), operation, code, status)
        with pytest.raises(ClientError, match=code):
            aws["app"].handler(event(arn, "Approved"), Context())
        assert started_with(aws) == deployed, code
        assert aws["app"].handler(event(arn, "Approved"), Context())["action"] == "deploy"  # Lambda's retry
        aws["app"].handler(event(arn, "Approved"), Context())  # a later duplicate delivery
        deployed.append(arn)
        assert started_with(aws) == deployed, code


@pytest.mark.parametrize("client, operation", [("ssm", "get_parameter"), ("ssm", "get_parameter_history"),
                                               ("sagemaker", "describe_model_package"),
                                               ("codepipeline", "list_pipeline_executions")])
def test_a_rejection_whose_call_fails_rolls_back_nothing_and_its_retry_rolls_back_once(aws, client, operation):
    """SSM answers a missing parameter with ParameterNotFound (handled: nothing serves there); every other
    error of these reads fails the event."""
    from botocore.exceptions import ClientError

    first = register(aws, "Approved")
    serving(aws, "prod", first)
    rolled_back = []
    for code, status in FAULTS:
        rejected = register(aws, "Approved")
        serving(aws, "prod", rejected)
        aws["sagemaker"].update_model_package(ModelPackageArn=rejected, ModelApprovalStatus="Rejected")
        inject_fault(getattr(aws["app"].hook(), client), operation, code, status)
        with pytest.raises(ClientError, match=code):
            aws["app"].handler(event(rejected, "Rejected"), Context())
        assert started_with(aws) == rolled_back, code
        assert aws["app"].handler(event(rejected, "Rejected"), Context())["package_arn"] == first
        rolled_back.append(first)
        assert started_with(aws) == rolled_back, code
        serving(aws, "prod", first)  # the rollback served


def test_a_failed_notification_after_the_start_is_said_and_never_starts_again(aws):
    deployed = []
    for code, status in FAULTS:
        arn = register(aws, "Approved")
        inject_fault(aws["app"].hook().sns, "publish", code, status)
        result = aws["app"].handler(event(arn, "Approved"), Context())
        assert result["action"] == "deploy" and result["reason"].endswith(f"; telling the approvers failed ({code})")
        assert aws["app"].handler(event(arn, "Approved"), Context()) == result  # a redelivery: the same outcome
        deployed.append(arn)
        assert started_with(aws) == deployed, code


def test_a_failed_audit_entry_after_the_start_is_said_and_never_starts_again(aws):
    deployed = []
    for code, status in FAULTS:
        arn = register(aws, "Approved")
        inject_fault(aws["app"].audit().dynamodb, "put_item", code, status)
        result = aws["app"].handler(event(arn, "Approved"), Context())
        assert result["action"] == "deploy" and result["reason"].endswith(
            f"; the audit log could not record it ({code})")
        aws["app"].handler(event(arn, "Approved"), Context())
        deployed.append(arn)
        assert started_with(aws) == deployed, code
    assert len(notifications(aws)) == len(FAULTS)


@pytest.mark.parametrize("operation", ["get_pipeline_execution", "stop_pipeline_execution"])
def test_a_failed_stop_of_a_rejected_deploy_fails_the_event_for_a_retry(aws, operation):
    """moto finishes executions at once, so the in-flight deploy is the documented ListPipelineExecutions
    answer (Stubber); the failed call fails the event before any rollback starts."""
    from botocore.exceptions import ClientError
    from botocore.stub import Stubber

    rejected = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/{GROUP}/4"
    codepipeline = boto3.client("codepipeline", region_name=REGION)
    hook = aws["app"].ApprovalHook(team=TEAM, groups={GROUP}, topic_arn="t", sagemaker=None,
                                   codepipeline=codepipeline, ssm=None, sns=None)
    pipeline = f"{GROUP}-deploy"
    for code, status in FAULTS:
        with Stubber(codepipeline) as stub:
            stub.add_response("list_pipeline_executions", {"pipelineExecutionSummaries": [
                {"pipelineExecutionId": "e-1", "status": "InProgress"}]}, {"pipelineName": pipeline})
            if operation == "stop_pipeline_execution":
                stub.add_response("get_pipeline_execution", {"pipelineExecution": {
                    "pipelineName": pipeline, "pipelineExecutionId": "e-1", "status": "InProgress",
                    "variables": [{"name": "ModelPackageArn", "resolvedValue": rejected}]}})
            stub.add_client_error(operation, service_error_code=code, http_status_code=status)
            with pytest.raises(ClientError, match=code):
                hook._stop_deploys_of(GROUP, rejected)
            stub.assert_no_pending_responses()


def test_a_failed_audit_read_of_a_cloudtrail_call_fails_the_event_for_a_retry(aws):
    from botocore.exceptions import ClientError

    event_ = json.loads((ROOT / "tests" / "fixtures" / "events" / "cloudtrail-update-model-package.json").read_text())
    for code, status in FAULTS:
        inject_fault(aws["app"].audit().dynamodb, "query", code, status)
        with pytest.raises(ClientError, match=code):
            aws["app"].handler(event_, Context())
    assert aws["app"].handler(event_, Context())["action"] == "audit"  # the retry records it
