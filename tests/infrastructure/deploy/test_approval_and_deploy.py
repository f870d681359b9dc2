"""Approval hook (foundation stack) and deploy pipeline (per-model pipelines stack) templates."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match, Template

from stacks.common.team_function import POWERTOOLS_LAYER_VERSION
from tests.synth import ROOT

TOPIC = "arn:aws:sns:eu-west-1:111111111111:mf-fraud-approvers"
DEPLOY = "mf-fraud-card-fraud-deploy"


@pytest.fixture(scope="module")
def foundation(example_factory) -> Template:
    return example_factory.template("fraud")


@pytest.fixture(scope="module")
def pipelines(example_factory) -> Template:
    return example_factory.build_template("fraud", "card-fraud")


def only(template: Template, resource_type: str, props: dict | None = None) -> tuple[str, dict]:
    found = template.find_resources(resource_type, {"Properties": props} if props else None)
    assert len(found) == 1, list(found)
    return next(iter(found.items()))


HOOK = {"FunctionName": "mf-fraud-approval-hook"}
HOOK_QUEUE = {"QueueName": "mf-fraud-approval-hook-dlq"}
HOOK_TABLE = {"TableName": "mf-fraud-approval-idempotency"}


def test_rule_matches_exactly_this_teams_approvals_and_rejections(foundation):
    function_id, _ = only(foundation, "AWS::Lambda::Function", HOOK)
    queue_id, _ = only(foundation, "AWS::SQS::Queue", HOOK_QUEUE)
    foundation.has_resource_properties("AWS::Events::Rule", {
        "EventPattern": {
            "source": ["aws.sagemaker"],
            "detail-type": ["SageMaker Model Package State Change"],
            # approval decisions of completed packages only: the event comes for every update, naming the
            # updated fields; a package registered already approved names none (SageMaker developer guide,
            # "SageMaker model package state change"; EventBridge "$or" and "exists" matching)
            "detail": {"ModelPackageGroupName": ["mf-fraud-card-fraud"], "ModelApprovalStatus": ["Approved", "Rejected"],
                       "ModelPackageStatus": ["Completed"],
                       "$or": [{"UpdatedModelPackageFields": ["ModelApprovalStatus"]},
                               {"UpdatedModelPackageFields": [{"exists": False}]}]},
        },
        "Targets": [Match.object_like({
            "Arn": {"Fn::GetAtt": [function_id, "Arn"]},
            "DeadLetterConfig": {"Arn": {"Fn::GetAtt": [queue_id, "Arn"]}},
            "RetryPolicy": {"MaximumRetryAttempts": 4, "MaximumEventAgeInSeconds": 21600},
        })],
    })


def test_hook_function_contract(foundation):
    table_id, _ = only(foundation, "AWS::DynamoDB::GlobalTable", HOOK_TABLE)
    queue_id, _ = only(foundation, "AWS::SQS::Queue", HOOK_QUEUE)
    foundation.has_resource_properties("AWS::Lambda::Function", {
        "FunctionName": "mf-fraud-approval-hook",
        "Runtime": "python3.13",
        "Architectures": ["arm64"],
        "Handler": "app.handler",
        "Layers": [f"arn:aws:lambda:eu-west-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:"
                   f"{POWERTOOLS_LAYER_VERSION}"],
        "Environment": {"Variables": Match.object_like({
            "IDEMPOTENCY_TABLE_NAME": {"Ref": table_id},
            "NOTIFICATION_TOPIC_ARN": Match.any_value(),
            "TEAM": "fraud",
            "MODEL_PACKAGE_GROUPS": json.dumps(["mf-fraud-card-fraud"]),
        })},
        "DeadLetterConfig": {"TargetArn": {"Fn::GetAtt": [queue_id, "Arn"]}},
        "TracingConfig": {"Mode": "Active"},
        "LoggingConfig": Match.object_like({"LogGroup": Match.any_value()}),
    })
    foundation.has_resource_properties("AWS::Logs::LogGroup", {
        "LogGroupName": "/model-factory/fraud/approval-hook", "KmsKeyId": Match.any_value()})


def test_idempotency_table_expires_records_and_is_encrypted(foundation):
    foundation.has_resource_properties("AWS::DynamoDB::GlobalTable", {
        "TableName": "mf-fraud-approval-idempotency",
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        "TimeToLiveSpecification": {"AttributeName": "expiration", "Enabled": True},
        "SSESpecification": Match.object_like({"SSEEnabled": True, "SSEType": "KMS"}),
    })


def test_dead_letter_queue_is_kms_encrypted_and_alarmed(foundation):
    key_id, _ = only(foundation, "AWS::KMS::Key")
    queue_id, _ = only(foundation, "AWS::SQS::Queue", {**HOOK_QUEUE, "KmsMasterKeyId": {"Fn::GetAtt": [key_id, "Arn"]}})
    foundation.has_resource_properties("AWS::CloudWatch::Alarm", {
        "AlarmName": "mf-fraud-approval-hook-dead-letters",
        "MetricName": "ApproximateNumberOfMessagesVisible", "Namespace": "AWS/SQS",
        "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}],
        "Threshold": 1, "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "AlarmActions": [Match.any_value()],
    })


def test_hook_iam_is_scoped_to_the_pipeline_group_table_topic_and_parameters(foundation):
    _, role = only(foundation, "AWS::IAM::Role", {"Description": Match.string_like_regexp("^Approved -> deploy.*\\(fraud team\\)$")})
    assert "ManagedPolicyArns" not in role["Properties"]
    _, policy = only(foundation, "AWS::IAM::Policy", {"PolicyName": Match.string_like_regexp("^ApprovalHookRole")})
    every = policy["Properties"]["PolicyDocument"]["Statement"]
    statements = {s["Sid"]: s for s in every if "Sid" in s}
    assert statements["StartDeployPipelines"]["Resource"] == f"arn:aws:codepipeline:eu-west-1:111111111111:{DEPLOY}"
    assert statements["FindApprovedPackages"]["Resource"] == [
        "arn:aws:sagemaker:eu-west-1:111111111111:model-package-group/mf-fraud-card-fraud",
        "arn:aws:sagemaker:eu-west-1:111111111111:model-package/mf-fraud-card-fraud/*"]
    assert statements["ReadServingPackages"]["Resource"] == (
        "arn:aws:ssm:eu-west-1:111111111111:parameter/model-factory/fraud/card-fraud/*")
    publishes = [s for s in every if s["Action"] == "sns:Publish"]
    assert len(publishes) == 1 and publishes[0]["Resource"] == {"Ref": only(foundation, "AWS::SNS::Topic")[0]}


def test_deploy_pipeline_variable_and_stage_order(pipelines):
    _, pipeline = only(pipelines, "AWS::CodePipeline::Pipeline", {"Name": DEPLOY})
    props = pipeline["Properties"]
    assert props["PipelineType"] == "V2"
    assert [(v["Name"], v["DefaultValue"]) for v in props["Variables"]] == [
        ("ModelPackageArn", "none"), ("Purpose", "deploy"), ("SkipStaging", "false"), ("SkipProd", "false"),
        ("SkipGate", "false")]
    # SUPERSEDED: a rollback or newer approval overtakes a deploy waiting at the gate (CodePipeline V2)
    assert props["ExecutionMode"] == "SUPERSEDED"
    assert [s["Name"] for s in props["Stages"]] == [
        "Source", "Validate", "DeployStaging", "TestStaging", "ApproveProd", "DeployProd"]
    source = props["Stages"][0]["Actions"][0]
    assert source["ActionTypeId"]["Provider"] == "S3"
    assert source["Configuration"]["PollForSourceChanges"] is False
    assert source["Configuration"]["S3Bucket"] == "cdk-hnb659fds-assets-111111111111-eu-west-1"
    validate = props["Stages"][1]["Actions"][0]
    env = json.loads(validate["Configuration"]["EnvironmentVariables"])
    assert {"name": "MODEL_PACKAGE_ARN", "type": "PLAINTEXT", "value": "#{variables.ModelPackageArn}"} in env
    assert validate["Namespace"] == "Validate"


def test_no_source_change_or_schedule_starts_the_deploy_pipeline(pipelines):
    deploy_id, _ = only(pipelines, "AWS::CodePipeline::Pipeline", {"Name": DEPLOY})
    for rule in pipelines.find_resources("AWS::Events::Rule").values():
        assert deploy_id not in json.dumps(rule["Properties"].get("Targets", []))


def test_cloudformation_actions_deploy_the_endpoint_stacks_with_a_scoped_role(pipelines):
    role_id, _ = only(pipelines, "AWS::IAM::Role", {"AssumeRolePolicyDocument": {"Statement": [
        Match.object_like({"Principal": {"Service": "cloudformation.amazonaws.com"}})]}})
    _, pipeline = only(pipelines, "AWS::CodePipeline::Pipeline", {"Name": DEPLOY})
    stages = {s["Name"]: s["Actions"] for s in pipeline["Properties"]["Stages"]}
    for stage, action, mode in (("staging", stages["DeployStaging"][0], "REPLACE_ON_FAILURE"),
                                ("prod", stages["DeployProd"][1], "CREATE_UPDATE")):
        assert action["ActionTypeId"]["Provider"] == "CloudFormation"
        assert action["Configuration"] == {
            "StackName": f"mf-fraud-card-fraud-{stage}-endpoint", "ActionMode": mode,
            "TemplatePath": f"Templates::{stage}/Endpoint.template.json", "RoleArn": {"Fn::GetAtt": [role_id, "Arn"]}}
    record = stages["DeployProd"][2]
    assert (record["Name"], record["RunOrder"]) == ("RecordProd", 3)
    _, policy = only(pipelines, "AWS::IAM::Policy", {"Roles": [{"Ref": role_id}]})
    statements = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    assert "arn:aws:sagemaker:eu-west-1:111111111111:endpoint/mf-fraud-card-fraud-*" in statements["EndpointResources"]["Resource"]
    assert sorted(statements["PassTheTeamSageMakerRoles"]["Resource"]) == [
        "arn:aws:iam::111111111111:role/mf-fraud-drift-job", "arn:aws:iam::111111111111:role/mf-fraud-sagemaker-execution"]
    assert statements["PassTheDriftScheduleRole"] == {
        "Sid": "PassTheDriftScheduleRole", "Effect": "Allow", "Action": "iam:PassRole",
        "Resource": "arn:aws:iam::111111111111:role/mf-fraud-drift-schedule",
        "Condition": {"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}}}
    # the factory engine's pipeline and schedule of this model's endpoints only
    assert sorted(statements["DriftPipelines"]["Resource"]) == [
        f"arn:aws:sagemaker:eu-west-1:111111111111:pipeline/mf-fraud-card-fraud-*-{kind}" for kind in ("batch", "drift")]
    assert statements["DriftSchedules"]["Resource"] == (
        "arn:aws:scheduler:eu-west-1:111111111111:schedule/default/mf-fraud-card-fraud-*")
    assert sorted(statements["DriftSchedules"]["Action"]) == ["scheduler:CreateSchedule", "scheduler:DeleteSchedule",
                                                              "scheduler:GetSchedule", "scheduler:UpdateSchedule"]
    # target tracking creates its alarms with the deployer's permissions
    assert statements["TargetTrackingAlarms"]["Resource"] == [
        "arn:aws:cloudwatch:eu-west-1:111111111111:alarm:TargetTracking-endpoint/mf-fraud-card-fraud-*",
        "arn:aws:cloudwatch:eu-west-1:111111111111:alarm:TargetTracking-inference-component/mf-fraud-card-fraud-*"]


def test_manual_prod_gate_notifies_the_approvers_with_the_evidence(pipelines):
    _, pipeline = only(pipelines, "AWS::CodePipeline::Pipeline", {"Name": DEPLOY})
    gate = next(s for s in pipeline["Properties"]["Stages"] if s["Name"] == "ApproveProd")["Actions"][0]
    assert gate["ActionTypeId"] == {"Category": "Approval", "Owner": "AWS", "Provider": "Manual", "Version": "1"}
    assert gate["Configuration"] == {
        "NotificationArn": TOPIC,
        "CustomData": "Deploy fraud/card-fraud to prod? #{Validate.APPROVAL_SUMMARY}",
        "ExternalEntityLink": "#{Validate.REVIEW_URL}",
    }


def test_serving_package_parameters_per_stage(pipelines):
    for stage in ("staging", "prod"):
        pipelines.has_resource_properties("AWS::SSM::Parameter", {
            "Name": f"/model-factory/fraud/card-fraud/{stage}/model-package-arn", "Type": "String", "Value": "none"})


def test_deploy_tasks_receive_the_models_endpoint_settings(pipelines):
    _, project = only(pipelines, "AWS::CodeBuild::Project", {"Name": DEPLOY})
    variable = next(v for v in project["Properties"]["Environment"]["EnvironmentVariables"]
                    if v["Name"] == "DEPLOY_SETTINGS")
    settings = json.loads(variable["Value"])
    assert settings["model_package_group_name"] == "mf-fraud-card-fraud"
    assert settings["endpoint"]["prod"]["max_instances"] == 12
    assert settings["endpoint"]["staging"]["min_instances"] == 0
    assert settings["monitoring"] == {
        "engine": "factory", "schedule": "cron(0 * ? * * *)", "drift_threshold": 0.2, "alarm_datapoints": 2,
        "alarm_periods": 3,
        "min_records": 200, "ground_truth_s3_uri": "s3://mf-fraud-111111111111-eu-west-1/ground-truth/card-fraud",
        "problem_type": "binary_classification", "quality_metric": "auc", "quality_threshold": 0.8,
        "quality_higher_is_better": True}
    assert settings["stage_accounts"] == {"staging": "111111111111", "prod": "111111111111"}
    assert settings["tags"] == {"model-factory:cost-center": "cc-1234", "model-factory:factory": "acme-ml",
                                "model-factory:model": "card-fraud", "model-factory:team": "fraud",
                                "owner": "platform"}
    spec = json.loads(project["Properties"]["Source"]["BuildSpec"])
    assert spec["env"]["exported-variables"] == ["APPROVAL_SUMMARY", "REVIEW_URL", "PACKAGE_VERSION"]
    assert any("endpoint_app.py" in command for command in spec["phases"]["build"]["commands"])


def test_the_endpoint_app_bundle_holds_every_stacks_package_and_no_local_outputs(example_factory):
    bundles = [d for d in example_factory.outdir.glob("asset.*") if (d / "endpoint_app.py").exists()]
    assert len(bundles) == 1
    bundle = bundles[0]
    packages = sorted(p.parent.name for p in (ROOT / "stacks").glob("*/__init__.py"))
    assert sorted(p.parent.name for p in (bundle / "stacks").glob("*/__init__.py")) == packages
    assert (bundle / "pipelines" / "deploy" / "tasks.py").exists()
    assert not (bundle / "tests").exists() and not (bundle / ".venv").exists()
    assert not any((bundle / "build").glob("*"))


def variable_check(variable: str, value: str) -> dict:
    """A stage entry condition that skips the stage (CodePipeline V2 conditions; rule VariableCheck)."""
    return {"Conditions": [{"Result": "SKIP", "Rules": [{
        "Name": Match.any_value(), "RuleTypeId": {"Category": "Rule", "Owner": "AWS", "Provider": "VariableCheck",
                                                  "Version": "1"},
        "Configuration": {"Variable": f"#{{variables.{variable}}}", "Value": value, "Operator": "EQ"}}]}]}


def test_a_rollback_skips_the_smoke_test_the_gate_and_the_stages_it_does_not_touch(pipelines):
    _, pipeline = only(pipelines, "AWS::CodePipeline::Pipeline", {"Name": DEPLOY})
    stages = {s["Name"]: s for s in pipeline["Properties"]["Stages"]}
    expected = {"DeployStaging": ("SkipStaging", "true"), "TestStaging": ("Purpose", "rollback"),
                "ApproveProd": ("SkipGate", "true"), "DeployProd": ("SkipProd", "true")}
    for name, (variable, value) in expected.items():
        assert Match.object_like(variable_check(variable, value)).test(stages[name]["BeforeEntry"]).is_success, name
    assert "BeforeEntry" not in stages["Validate"]


def test_staging_is_recorded_when_deployed_and_prod_only_if_still_approved(pipelines):
    _, pipeline = only(pipelines, "AWS::CodePipeline::Pipeline", {"Name": DEPLOY})
    stages = {s["Name"]: s for s in pipeline["Properties"]["Stages"]}

    def tasks(stage: str) -> list[tuple[str, int, str | None]]:
        found = []
        for action in stages[stage]["Actions"]:
            env = {v["name"]: v["value"] for v in json.loads(action["Configuration"].get("EnvironmentVariables", "[]"))}
            found.append((action["Name"], action["RunOrder"], env.get("TASK")))
        return found
    assert tasks("DeployStaging") == [("DeployStaging", 1, None), ("RecordStaging", 2, "record-staging")]
    assert tasks("DeployProd") == [("CheckStillApproved", 1, "check-approved"), ("DeployProd", 2, None),
                                   ("RecordProd", 3, "record-prod")]


def test_a_failed_first_create_of_staging_is_replaced_prod_never(pipelines):
    _, pipeline = only(pipelines, "AWS::CodePipeline::Pipeline", {"Name": DEPLOY})
    stages = {s["Name"]: s for s in pipeline["Properties"]["Stages"]}
    staging = next(a for a in stages["DeployStaging"]["Actions"] if a["Name"] == "DeployStaging")
    prod = next(a for a in stages["DeployProd"]["Actions"] if a["Name"] == "DeployProd")
    # CloudFormation action mode REPLACE_ON_FAILURE: "If the stack exists and is in a failed state,
    # CloudFormation deletes the stack and then creates a new stack" (CodePipeline CloudFormation action reference)
    assert staging["Configuration"]["ActionMode"] == "REPLACE_ON_FAILURE"
    assert prod["Configuration"]["ActionMode"] == "CREATE_UPDATE"


def test_the_audit_log_is_append_only_recoverable_and_fed_by_cloudtrail(foundation):
    foundation.has_resource_properties("AWS::DynamoDB::GlobalTable", {
        "TableName": "mf-fraud-approval-audit",
        "KeySchema": [{"AttributeName": "subject", "KeyType": "HASH"}, {"AttributeName": "at", "KeyType": "RANGE"}],
        "Replicas": [Match.object_like({"PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                                        "DeletionProtectionEnabled": True})],
    })
    statements = [s for p in foundation.find_resources("AWS::IAM::Policy").values()
                  for s in p["Properties"]["PolicyDocument"]["Statement"]]
    audit = [s for s in statements if "mf-fraud-approval-audit" in json.dumps(s.get("Resource"))
             or any("AuditTable" in json.dumps(r) or "Audit" in json.dumps(r) for r in
                    (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]))]
    actions = {a for s in audit for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
               if a.startswith("dynamodb:")}
    assert actions == {"dynamodb:PutItem", "dynamodb:Query"}  # no update, no delete
    foundation.has_resource_properties("AWS::Events::Rule", {"Name": "mf-fraud-approval-calls", "EventPattern": {
        "source": ["aws.sagemaker"], "detail-type": ["AWS API Call via CloudTrail"],
        "detail": {"eventSource": ["sagemaker.amazonaws.com"], "eventName": ["UpdateModelPackage"],
                   "requestParameters": {"modelPackageArn": [{"prefix": Match.any_value()}]}}}})
    foundation.has_resource_properties("AWS::Events::Rule", {"Name": "mf-fraud-prod-gate-calls", "EventPattern": {
        "source": ["aws.codepipeline"], "detail-type": ["AWS API Call via CloudTrail"],
        "detail": {"eventSource": ["codepipeline.amazonaws.com"], "eventName": ["PutApprovalResult"],
                   "requestParameters": {"pipelineName": ["mf-fraud-card-fraud-deploy"]}}}})


def test_a_failed_prod_deploy_tells_the_approvers_the_command_that_clears_it(pipelines):
    """CodePipeline's "CodePipeline Action Execution State Change" event (pipeline, stage, action, state)."""
    _, rule = only(pipelines, "AWS::Events::Rule", {"Name": "mf-fraud-card-fraud-deploy-prod-failed"})
    assert rule["Properties"]["EventPattern"] == {
        "source": ["aws.codepipeline"], "detail-type": ["CodePipeline Action Execution State Change"],
        "detail": {"pipeline": ["mf-fraud-card-fraud-deploy"], "stage": ["DeployProd"], "action": ["DeployProd"],
                   "state": ["FAILED"]}}
    (target,) = rule["Properties"]["Targets"]
    template = json.dumps(target["InputTransformer"])
    assert "aws cloudformation delete-stack --stack-name mf-fraud-card-fraud-prod-endpoint" in template


def test_autoscaling_writes_are_scoped_to_scalable_targets_and_only_describes_use_a_wildcard(pipelines):
    """checkov CKV_AWS_111: Application Auto Scaling's write actions take the scalable-target resource type
    (Service Authorization Reference); its Describe actions take none."""
    role_id, _ = only(pipelines, "AWS::IAM::Role", {"AssumeRolePolicyDocument": {"Statement": [
        Match.object_like({"Principal": {"Service": "cloudformation.amazonaws.com"}})]}})
    _, policy = only(pipelines, "AWS::IAM::Policy", {"Roles": [{"Ref": role_id}]})
    statements = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    assert statements["Autoscaling"]["Resource"] == (
        "arn:aws:application-autoscaling:eu-west-1:111111111111:scalable-target/*")
    assert all(not a.startswith("application-autoscaling:Describe") for a in statements["Autoscaling"]["Action"])
    assert statements["DescribeAutoscaling"]["Resource"] == "*"
    assert all(a.startswith("application-autoscaling:Describe") for a in statements["DescribeAutoscaling"]["Action"])
