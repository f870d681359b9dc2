"""Per-model build: seeded repository, V2 pipeline, CodeBuild project, schedule and IAM scope."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match, Template

from tests.helpers import CONNECTION_ARN

ROLE_ARN = "arn:aws:iam::111111111111:role/mf-fraud-sagemaker-execution"
PIPELINE_ARN = "arn:aws:sagemaker:eu-west-1:111111111111:pipeline/mf-fraud-card-fraud"
BUCKET = "mf-fraud-111111111111-eu-west-1"


@pytest.fixture(scope="module")
def fraud_build(example_factory) -> Template:
    return example_factory.build_template("fraud", "card-fraud")


@pytest.fixture(scope="module")
def pricing_build(example_factory) -> Template:
    return example_factory.build_template("pricing", "demand-forecast")


def logical_id(template: Template, resource_type: str, props: dict | None = None) -> str:
    found = template.find_resources(resource_type, {"Properties": props} if props else None)
    assert len(found) == 1, list(found)
    return next(iter(found))


BUILD_PROJECT = {"Name": "mf-fraud-card-fraud-build"}
BUILD_PIPELINE = {"Name": "mf-fraud-card-fraud-build"}


def test_one_pipelines_stack_per_model_named_after_it(example_factory):
    stack = example_factory.stages["fraud"].builds["card-fraud"]
    assert stack.stack_name == "mf-fraud-card-fraud-pipelines"
    assert example_factory.stages["pricing"].builds["demand-forecast"].stack_name == "mf-pricing-demand-forecast-pipelines"


def test_repository_is_seeded_from_the_modelbuild_asset_and_retained(fraud_build, example_factory):
    fraud_build.has_resource("AWS::CodeCommit::Repository", {
        "Properties": {
            "RepositoryName": "mf-fraud-card-fraud-build",
            "Code": {"BranchName": "main", "S3": {
                "Bucket": "cdk-hnb659fds-assets-111111111111-eu-west-1",
                "Key": Match.string_like_regexp(r"^[0-9a-f]{64}\.zip$"),
            }},
            "KmsKeyId": Match.any_value(),
        },
        "DeletionPolicy": "Retain",
    })
    zipped = fraud_build.find_resources("AWS::CodeCommit::Repository")
    key = next(iter(zipped.values()))["Properties"]["Code"]["S3"]["Key"]
    staged = example_factory.outdir / f"asset.{key.removesuffix('.zip')}"
    assert (staged / "run_pipeline.py").exists() and (staged / "code" / "train.py").exists()
    assert not list(staged.glob("**/__pycache__"))


def test_build_pipeline_is_v2_source_then_build_on_the_team_bucket(fraud_build):
    repository = logical_id(fraud_build, "AWS::CodeCommit::Repository")
    project = logical_id(fraud_build, "AWS::CodeBuild::Project", BUILD_PROJECT)
    fraud_build.has_resource_properties("AWS::CodePipeline::Pipeline", {
        "Name": "mf-fraud-card-fraud-build",
        "PipelineType": "V2",
        "ArtifactStore": {"Type": "S3", "Location": BUCKET, "EncryptionKey": {"Type": "KMS", "Id": Match.any_value()}},
        "Stages": [
            {"Name": "Source", "Actions": [Match.object_like({
                "ActionTypeId": {"Category": "Source", "Owner": "AWS", "Provider": "CodeCommit", "Version": "1"},
                "Configuration": {"RepositoryName": {"Fn::GetAtt": [repository, "Name"]}, "BranchName": "main",
                                  "PollForSourceChanges": False},
            })]},
            {"Name": "Build", "Actions": [Match.object_like({
                "ActionTypeId": {"Category": "Build", "Owner": "AWS", "Provider": "CodeBuild", "Version": "1"},
                "Configuration": {"ProjectName": {"Ref": project}, "EnvironmentVariables": Match.any_value()},
            })]},
        ],
    })


def test_the_build_learns_the_commit_and_who_started_it(fraud_build):
    """Source action variables (CodePipeline action reference: CodeCommit CommitId) and the V2 pipeline
    variable Trigger reach the CodeBuild action as environment variables."""
    pipeline = next(iter(fraud_build.find_resources("AWS::CodePipeline::Pipeline", {
        "Properties": BUILD_PIPELINE}).values()))["Properties"]
    assert pipeline["Variables"] == [{"Name": "Trigger", "DefaultValue": "push",
                                      "Description": "Who started the build: push (default), schedule, drift or manual"}]
    source, build = (stage["Actions"][0] for stage in pipeline["Stages"])
    assert source["Namespace"] == "Source"
    assert json.loads(build["Configuration"]["EnvironmentVariables"]) == [
        {"name": "GIT_COMMIT", "type": "PLAINTEXT", "value": "#{Source.CommitId}"},
        {"name": "TRIGGER", "type": "PLAINTEXT", "value": "#{variables.Trigger}"},
        {"name": "PIPELINE_EXECUTION_ID", "type": "PLAINTEXT", "value": "#{codepipeline.PipelineExecutionId}"},
    ]


def test_a_push_to_main_starts_the_build(fraud_build):
    repository = logical_id(fraud_build, "AWS::CodeCommit::Repository")
    fraud_build.has_resource_properties("AWS::Events::Rule", {
        "EventPattern": {
            "source": ["aws.codecommit"],
            "resources": [{"Fn::GetAtt": [repository, "Arn"]}],
            "detail-type": ["CodeCommit Repository State Change"],
            "detail": {"event": ["referenceCreated", "referenceUpdated"], "referenceName": ["main"]},
        },
        "State": "ENABLED",
    })


def test_daily_retrain_schedule_starts_the_build_saying_it_is_a_schedule(fraud_build, pricing_build):
    """EventBridge Scheduler's universal target calls CodePipeline StartPipelineExecution with its API
    parameters (Scheduler user guide, "Using universal targets"; CodePipeline API: Name, Variables)."""
    (schedule,) = fraud_build.find_resources("AWS::Scheduler::Schedule").values()
    props = schedule["Properties"]
    assert (props["Name"], props["ScheduleExpression"]) == ("mf-fraud-card-fraud-build-schedule", "cron(0 3 * * ? *)")
    assert props["Target"]["Arn"] == {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"},
                                                        ":scheduler:::aws-sdk:codepipeline:startPipelineExecution"]]}
    assert json.loads(props["Target"]["Input"]) == {
        "Name": "mf-fraud-card-fraud-build", "Variables": [{"Name": "Trigger", "Value": "schedule"}]}
    role = props["Target"]["RoleArn"]["Fn::GetAtt"][0]
    pipeline = logical_id(fraud_build, "AWS::CodePipeline::Pipeline", BUILD_PIPELINE)
    statements = [s for p in fraud_build.find_resources("AWS::IAM::Policy").values()
                  if {"Ref": role} in p["Properties"]["Roles"] for s in p["Properties"]["PolicyDocument"]["Statement"]]
    (statement,) = statements  # the scheduler's role may start exactly this pipeline
    assert statement["Action"] == "codepipeline:StartPipelineExecution"
    assert {"Ref": pipeline} in statement["Resource"]["Fn::Join"][1]
    assert not pricing_build.find_resources("AWS::Scheduler::Schedule")


def test_codebuild_project_is_encrypted_logs_to_kms_group_and_carries_the_settings(fraud_build):
    log_group = logical_id(fraud_build, "AWS::Logs::LogGroup", {"LogGroupName": "/model-factory/fraud/card-fraud/build"})
    fraud_build.has_resource_properties("AWS::Logs::LogGroup", {
        "LogGroupName": "/model-factory/fraud/card-fraud/build", "KmsKeyId": Match.any_value(), "RetentionInDays": 365})
    project = fraud_build.find_resources("AWS::CodeBuild::Project", {"Properties": BUILD_PROJECT})
    properties = next(iter(project.values()))["Properties"]
    assert properties["Name"] == "mf-fraud-card-fraud-build"
    assert properties["EncryptionKey"]
    # spot: training may wait 2 x 120 min, plus the build's margin for the other steps
    assert properties["TimeoutInMinutes"] == 2 * 120 + 120
    assert properties["Environment"]["Image"] == "aws/codebuild/standard:7.0"
    assert properties["Environment"].get("PrivilegedMode") in (None, False)
    assert properties["LogsConfig"]["CloudWatchLogs"] == {"GroupName": {"Ref": log_group}, "Status": "ENABLED"}
    spec = json.loads(properties["Source"]["BuildSpec"])
    # the repository's own tests run before anything is spent on SageMaker
    assert spec["phases"]["build"]["commands"] == ["python -m pytest -q -p no:cacheprovider tests",
                                                   "python run_pipeline.py run"]
    assert spec["phases"]["install"]["commands"] == [
        "pip install --disable-pip-version-check -q -r requirements-local.txt"]
    settings_var = next(v for v in properties["Environment"]["EnvironmentVariables"]
                        if v["Name"] == "MODEL_FACTORY_SETTINGS")
    rendered = "".join(p if isinstance(p, str) else "<TOKEN>" for p in settings_var["Value"]["Fn::Join"][1])
    settings = json.loads(rendered)
    assert settings == {
        "region": "eu-west-1", "pipeline_name": "mf-fraud-card-fraud", "model_package_group_name": "mf-fraud-card-fraud",
        "role_arn": ROLE_ARN, "bucket": BUCKET, "kms_key_arn": "<TOKEN>", "problem_type": "binary_classification",
        "label": "is_fraud", "features": [], "description": settings["description"],
        "quality_metric": "auc", "quality_threshold": 0.8, "training_instance_type": "ml.g5.xlarge",
        "training_instance_count": 1, "training_volume_kms": False, "use_spot": True, "max_runtime_minutes": 120,
        "processing_instance_type": "ml.m5.xlarge", "processing_volume_kms": True, "build_timeout_minutes": 360,
        "data_s3_uri": f"s3://{BUCKET}/mf-fraud-card-fraud/data/", "git_repository": "<TOKEN>",
        "champion_parameter": "/model-factory/fraud/card-fraud/prod/model-package-arn", "promotion_mode": "manual",
        "promotion_min_improvement": 0, "quality_higher_is_better": True,
        "notification_topic_arn": "arn:aws:sns:eu-west-1:111111111111:mf-fraud-approvers",
        "tags": {"model-factory:cost-center": "cc-1234", "model-factory:factory": "acme-ml",
                 "model-factory:team": "fraud", "model-factory:model": "card-fraud", "owner": "platform"},
    }
    environment = {v["Name"]: v["Value"] for v in properties["Environment"]["EnvironmentVariables"]}
    assert environment["CODEPIPELINE_NAME"] == "mf-fraud-card-fraud-build"


def test_build_role_may_pass_only_the_team_sagemaker_role_and_drive_only_its_pipeline(fraud_build):
    project_role = next(iter(fraud_build.find_resources("AWS::CodeBuild::Project", {
        "Properties": BUILD_PROJECT}).values()))["Properties"]["ServiceRole"]
    role_id = project_role["Fn::GetAtt"][0]
    policies = [p for p in fraud_build.find_resources("AWS::IAM::Policy").values()
                if {"Ref": role_id} in p["Properties"]["Roles"]]
    statements = {s.get("Sid"): s for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]}
    assert statements["PassTheTeamSageMakerRole"] == {
        "Sid": "PassTheTeamSageMakerRole", "Effect": "Allow", "Action": "iam:PassRole", "Resource": ROLE_ARN,
        "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
    }
    assert statements["UpsertAndStartSageMakerPipeline"]["Resource"] == PIPELINE_ARN
    assert statements["WatchPipelineExecutions"]["Resource"] == f"{PIPELINE_ARN}/execution/*"
    assert statements["UploadCode"]["Resource"] == f"arn:aws:s3:::{BUCKET}/mf-fraud-card-fraud/code/*"
    # the training data: listed on exactly its prefix, written only as the seed of an empty prefix
    assert statements["ListTheTrainingData"]["Action"] == "s3:ListBucket"
    assert statements["ListTheTrainingData"]["Condition"] == {
        "StringLike": {"s3:prefix": ["mf-fraud-card-fraud/data/*"]}}
    assert statements["SeedAnEmptyTrainingDataPrefix"]["Resource"] == (
        f"arn:aws:s3:::{BUCKET}/mf-fraud-card-fraud/data/seed.csv")
    assert sorted(statements["CompareWithTheNewestPackage"]["Action"]) == ["sagemaker:DescribeModelPackage",
                                                                          "sagemaker:ListModelPackages"]
    assert statements["ReadWhoStartedTheBuild"] == {
        "Sid": "ReadWhoStartedTheBuild", "Effect": "Allow", "Action": "codepipeline:GetPipelineExecution",
        "Resource": "arn:aws:codepipeline:eu-west-1:111111111111:mf-fraud-card-fraud-build"}
    every = [s for p in fraud_build.find_resources("AWS::IAM::Policy").values()
             for s in p["Properties"]["PolicyDocument"]["Statement"]]
    pass_role = [s for s in every if "iam:PassRole" in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])]
    deployment_role = logical_id(fraud_build, "AWS::IAM::Role", {"AssumeRolePolicyDocument": {"Statement": [
        Match.object_like({"Principal": {"Service": "cloudformation.amazonaws.com"}})]}})
    drift_job, drift_schedule = (f"arn:aws:iam::111111111111:role/mf-fraud-drift-{kind}" for kind in ("job", "schedule"))
    for statement in pass_role:
        # the team's SageMaker and drift-job roles, to SageMaker only; the drift-schedule role to EventBridge
        # Scheduler only; or the endpoint deployment role, to CloudFormation
        if statement["Resource"] in (ROLE_ARN, [drift_job, ROLE_ARN]):
            assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
        elif statement["Resource"] == drift_schedule:
            assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}}
        else:
            assert statement["Resource"] == {"Fn::GetAtt": [deployment_role, "Arn"]}


def test_codeconnections_source_replaces_the_repository(many_team_factory):
    template = many_team_factory.build_template("team-002", "model-00")
    assert not template.find_resources("AWS::CodeCommit::Repository")
    template.has_resource_properties("AWS::CodePipeline::Pipeline", {
        "PipelineType": "V2",
        "Stages": Match.array_with([{"Name": "Source", "Actions": [Match.object_like({
            "ActionTypeId": {"Category": "Source", "Owner": "AWS", "Provider": "CodeStarSourceConnection",
                             "Version": "1"},
            "Configuration": {"ConnectionArn": CONNECTION_ARN, "FullRepositoryId": "acme/churn-model",
                              "BranchName": "release"},
        })]}]),
    })


def test_codeconnections_arns_get_the_codeconnections_permission(many_team_factory):
    """Connections created since 2024 have arn:aws:codeconnections ARNs; the IAM action's service prefix must
    match (CodeConnections user guide, "Update a policy for the codeconnections service prefix")."""
    template = many_team_factory.build_template("team-002", "model-00")
    statements = [s for p in template.find_resources("AWS::IAM::Policy").values()
                  for s in p["Properties"]["PolicyDocument"]["Statement"]]
    assert {"Sid": "UseTheCodeConnection", "Effect": "Allow", "Action": "codeconnections:UseConnection",
            "Resource": CONNECTION_ARN} in statements


def test_training_data_in_another_bucket_is_read_on_exactly_its_prefix(many_team_factory):
    foundation = many_team_factory.template("team-002")
    policy = next(iter(foundation.find_resources("AWS::IAM::Policy", {
        "Properties": {"PolicyName": Match.string_like_regexp("^SageMakerExecution")}}).values()))
    statements = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    assert statements["ReadTrainingData0"]["Resource"] == "arn:aws:s3:::acme-feature-store/churn/daily/*"
    assert statements["ReadTrainingData0"]["Action"] == "s3:GetObject"
    assert statements["ListTrainingData0"]["Condition"] == {"StringLike": {"s3:prefix": ["churn/daily/*"]}}
    build = many_team_factory.build_template("team-002", "model-00")
    build_statements = {s.get("Sid"): s for p in build.find_resources("AWS::IAM::Policy").values()
                        for s in p["Properties"]["PolicyDocument"]["Statement"]}
    assert build_statements["SeedAnEmptyTrainingDataPrefix"]["Resource"] == (
        "arn:aws:s3:::acme-feature-store/churn/daily/seed.csv")
    assert "ReadTrainingData0" not in json.dumps(many_team_factory.template("team-001").to_json())


def test_sagemaker_role_can_run_pipeline_jobs_and_pass_itself_only(example_factory):
    foundation = example_factory.template("fraud")
    policy = next(iter(foundation.find_resources("AWS::IAM::Policy", {
        "Properties": {"PolicyName": Match.string_like_regexp("^SageMakerExecution")}}).values()))
    statements = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    assert statements["PipelineJobs"]["Resource"] == [
        "arn:aws:sagemaker:eu-west-1:111111111111:processing-job/pipelines-*",
        "arn:aws:sagemaker:eu-west-1:111111111111:training-job/pipelines-*",
    ]
    assert statements["PassThisRoleToPipelineJobs"]["Condition"] == {
        "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}


def test_clarify_monitors_turn_on_the_builds_clarify_baselines(many_team_factory):
    template = many_team_factory.build_template("team-003", "model-00")
    project = next(iter(template.find_resources("AWS::CodeBuild::Project", {"Properties": {
        "Name": "mf-team-003-model-00-build"}}).values()))
    settings_var = next(v for v in project["Properties"]["Environment"]["EnvironmentVariables"]
                        if v["Name"] == "MODEL_FACTORY_SETTINGS")
    settings = json.loads("".join(p if isinstance(p, str) else "<X>" for p in settings_var["Value"]["Fn::Join"][1]))
    assert {k: settings[k] for k in ("label", "bias", "bias_facet_name", "bias_facet_values", "bias_label_values",
                                     "explainability")} == {
        "label": "is_fraud", "bias": True, "bias_facet_name": "foreign", "bias_facet_values": [1],
        "bias_label_values": [1], "explainability": True}
    plain = many_team_factory.build_template("team-003", "model-01")
    project = next(iter(plain.find_resources("AWS::CodeBuild::Project", {"Properties": {
        "Name": "mf-team-003-model-01-build"}}).values()))
    assert "bias" not in json.dumps(project["Properties"]["Environment"]["EnvironmentVariables"])


def test_only_automatic_promotion_may_approve_and_the_champion_is_read_on_every_build(many_team_factory, fraud_build):
    def statements(template):
        return {s.get("Sid"): s for p in template.find_resources("AWS::IAM::Policy").values()
                for s in p["Properties"]["PolicyDocument"]["Statement"]}
    manual = statements(fraud_build)
    assert "ApproveABetterChallenger" not in manual
    assert manual["ReadTheServingChampion"]["Resource"] == (
        "arn:aws:ssm:eu-west-1:111111111111:parameter/model-factory/fraud/card-fraud/prod/model-package-arn")
    auto = statements(many_team_factory.build_template("team-001", "model-00"))
    assert auto["ApproveABetterChallenger"]["Action"] == "sagemaker:UpdateModelPackage"
    assert auto["ApproveABetterChallenger"]["Resource"].endswith(":model-package/mf-team-001-model-00/*")
    hook = many_team_factory.template("team-001").find_resources("AWS::Lambda::Function", {"Properties": {
        "FunctionName": "mf-team-001-approval-hook"}})
    (function,) = hook.values()
    assert function["Properties"]["Environment"]["Variables"]["AUTO_PROD_GATE_GROUPS"] == '["mf-team-001-model-00"]'
