"""Separate staging/prod accounts: the target stacks' roles trust exactly the team's factory account (or
the one service), and the factory's key, bucket and package groups grant exactly the target accounts."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match, Template

FACTORY = "100000000004"
TARGETS = ["300000000004", "400000000004"]
REGION = "us-east-1"  # team-004's region in the generated config
BUCKET = f"mf-team-004-{FACTORY}-{REGION}"


@pytest.fixture(scope="module")
def targets(many_team_factory) -> dict[str, Template]:
    stage = many_team_factory.stages["team-004"]
    assert sorted(stage.targets) == TARGETS
    return {account: Template.from_stack(stack) for account, stack in stage.targets.items()}


@pytest.fixture(scope="module")
def foundation(many_team_factory) -> Template:
    return many_team_factory.template("team-004")


def role(template: Template, name: str) -> dict:
    found = template.find_resources("AWS::IAM::Role", {"Properties": {"RoleName": name}})
    assert len(found) == 1, name
    return next(iter(found.values()))["Properties"]


def test_one_target_stack_per_separate_account_named_and_placed_there(many_team_factory):
    stage = many_team_factory.stages["team-004"]
    assert {s.stack_name: (s.account, s.region) for s in stage.targets.values()} == {
        f"mf-team-004-target-{a}": (a, REGION) for a in TARGETS}
    assert not many_team_factory.stages["team-000"].targets  # default: everything in the factory account


def test_deploy_action_role_trusts_only_the_teams_deploy_pipelines_and_their_tasks(targets):
    """Not the whole factory account: anyone there with sts:AssumeRole could deploy past the gate. The roles are
    named in an aws:PrincipalArn condition (IAM refuses a principal ARN of a role that does not exist yet)."""
    allowed = sorted(f"arn:aws:iam::{FACTORY}:role/mf-team-004-{model}-deploy-{kind}"
                     for model in ("model-00", "model-01") for kind in ("role", "task"))
    for template in targets.values():
        (trust,) = role(template, "mf-team-004-deploy-action")["AssumeRolePolicyDocument"]["Statement"]
        assert trust["Principal"] == {"AWS": f"arn:aws:iam::{FACTORY}:root"}
        assert sorted(trust["Condition"]["ArnEquals"]["aws:PrincipalArn"]) == allowed


def test_the_trusted_roles_are_the_deploy_pipelines_own(many_team_factory):
    template = many_team_factory.build_template("team-004", "model-00")
    for name, service in (("mf-team-004-model-00-deploy-role", "codepipeline.amazonaws.com"),
                          ("mf-team-004-model-00-deploy-task", "codebuild.amazonaws.com")):
        assert role(template, name)["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": service}


def test_execution_roles_trust_only_their_service_in_the_target_account(targets):
    for account, template in targets.items():
        cfn = role(template, "mf-team-004-cfn-execution")["AssumeRolePolicyDocument"]["Statement"]
        assert cfn == [{"Action": "sts:AssumeRole", "Effect": "Allow",
                        "Principal": {"Service": "cloudformation.amazonaws.com"}}]
        sagemaker = role(template, "mf-team-004-sagemaker-execution")["AssumeRolePolicyDocument"]["Statement"]
        assert sagemaker == [{"Action": "sts:AssumeRole", "Effect": "Allow",
                              "Principal": {"Service": "sagemaker.amazonaws.com"},
                              "Condition": {"StringEquals": {"aws:SourceAccount": account}}}]


def test_target_roles_reach_the_factory_key_only_by_its_alias(targets):
    template = targets[TARGETS[1]]
    template.has_resource_properties("AWS::IAM::Policy", {"PolicyDocument": {"Statement": Match.array_with([
        Match.object_like({"Sid": "FactoryKey", "Resource": f"arn:aws:kms:{REGION}:{FACTORY}:key/*",
            "Condition": {"ForAnyValue:StringEquals": {"kms:ResourceAliases": "alias/mf-team-004"}}})])}})
    template.has_resource_properties("AWS::IAM::Policy", {"PolicyDocument": {"Statement": Match.array_with([
        Match.object_like({"Sid": "EndpointStacks", "Resource": f"arn:aws:cloudformation:{REGION}:{TARGETS[1]}:stack/mf-team-004-*"}),
        Match.object_like({"Sid": "PassTheExecutionRole",
                           "Condition": {"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}}}),
    ])}})


def test_factory_key_and_bucket_grant_exactly_the_target_accounts(foundation):
    principals = {"AWS": [f"arn:aws:iam::{a}:root" for a in TARGETS]}
    foundation.has_resource_properties("AWS::KMS::Key", {"KeyPolicy": {"Statement": Match.array_with([
        Match.object_like({"Sid": "TargetAccountsUseTheTeamKey", "Principal": principals,
                           "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"]}),
        Match.object_like({"Sid": "TargetAccountsGrantTheKeyToSageMaker", "Principal": principals,
                           "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}}}),
    ])}})
    foundation.has_resource_properties("AWS::S3::BucketPolicy", {"PolicyDocument": {"Statement": Match.array_with([
        Match.object_like({"Sid": "TargetAccountsReadArtifacts", "Principal": principals,
                           "Action": ["s3:GetObject", "s3:GetObjectVersion"]}),
    ])}})


def test_target_accounts_write_only_under_the_endpoints_prefixes(foundation, targets):
    (policy,) = foundation.find_resources("AWS::S3::BucketPolicy", {"Properties": {"PolicyDocument": {
        "Statement": Match.array_with([Match.object_like({"Sid": "TargetAccountsWriteCapturesAndMonitoring"})])}}}).values()
    writes = [s for s in policy["Properties"]["PolicyDocument"]["Statement"]
              if "s3:PutObject" in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])]
    assert [w["Sid"] for w in writes] == ["TargetAccountsWriteCapturesAndMonitoring"]
    resources = json.dumps(writes[0]["Resource"])
    assert all(f"/{prefix}/*" in resources for prefix in ("data-capture", "monitoring", "async", "batch"))
    assert '"/*"' not in resources
    for account, template in targets.items():
        statements = [s for p in template.find_resources("AWS::IAM::Policy").values()
                      for s in p["Properties"]["PolicyDocument"]["Statement"]]
        puts = [s for s in statements if "s3:PutObject" in (s["Action"] if isinstance(s["Action"], list)
                                                             else [s["Action"]])]
        # the team's SageMaker role under the endpoints' prefixes (async answers too); the deploy action role only
        # the async smoke test's sample; the drift job under exactly its endpoints' reports
        by_sid = {s["Sid"]: s for s in puts}
        assert sorted(by_sid) == ["SmokeTestAsyncInput", "WriteCapturesAndMonitoring", "WriteReports"]
        assert sorted(r.rsplit("/", 2)[1] for r in by_sid["WriteCapturesAndMonitoring"]["Resource"]) == [
            "async", "batch", "data-capture", "monitoring"]
        assert by_sid["SmokeTestAsyncInput"]["Resource"] == f"arn:aws:s3:::{BUCKET}/async/mf-team-004-*-staging/input/*"
        stage = "staging" if account == TARGETS[0] else "prod"
        assert by_sid["WriteReports"]["Resource"] == f"arn:aws:s3:::{BUCKET}/monitoring/mf-team-004-model-01-{stage}/factory/*"


def test_package_groups_let_exactly_the_target_accounts_read_their_packages(foundation, many_team_factory):
    groups = foundation.find_resources("AWS::SageMaker::ModelPackageGroup")
    assert len(groups) == 2
    for group in groups.values():
        name = group["Properties"]["ModelPackageGroupName"]
        (statement,) = group["Properties"]["ModelPackageGroupPolicy"]["Statement"]
        assert statement["Principal"] == {"AWS": [f"arn:aws:iam::{a}:root" for a in TARGETS]}
        assert statement["Action"] == ["sagemaker:DescribeModelPackageGroup", "sagemaker:DescribeModelPackage",
                                       "sagemaker:ListModelPackages"]
        assert statement["Resource"][1] == f"arn:aws:sagemaker:{REGION}:{FACTORY}:model-package/{name}/*"
    plain = many_team_factory.template("team-000").find_resources("AWS::SageMaker::ModelPackageGroup")
    assert all("ModelPackageGroupPolicy" not in g["Properties"] for g in plain.values())


def test_deploy_pipeline_deploys_each_stage_through_the_target_accounts_roles(many_team_factory):
    template = many_team_factory.build_template("team-004", "model-00")
    (pipeline,) = template.find_resources("AWS::CodePipeline::Pipeline", {"Properties": {
        "Name": "mf-team-004-model-00-deploy"}}).values()
    actions = {a["Name"]: a for stage in pipeline["Properties"]["Stages"] for a in stage["Actions"]}
    for name, account in (("DeployStaging", TARGETS[0]), ("DeployProd", TARGETS[1])):
        assert actions[name]["RoleArn"] == f"arn:aws:iam::{account}:role/mf-team-004-deploy-action"
        assert actions[name]["Configuration"]["RoleArn"] == f"arn:aws:iam::{account}:role/mf-team-004-cfn-execution"
    template.has_resource_properties("AWS::IAM::Policy", {"PolicyDocument": {"Statement": Match.array_with([
        Match.object_like({"Action": "sts:AssumeRole", "Resource": [
            f"arn:aws:iam::{a}:role/mf-team-004-deploy-action" for a in TARGETS]})])}})
    template.has_resource_properties("AWS::IAM::Policy", {"PolicyDocument": {"Statement": Match.array_with([
        Match.object_like({"Sid": "SmokeTestInTheStagingAccount", "Action": "sts:AssumeRole",
                           "Resource": f"arn:aws:iam::{TARGETS[0]}:role/mf-team-004-deploy-action"})])}})


def test_same_account_stages_keep_the_local_deployment_role(many_team_factory):
    template = many_team_factory.build_template("team-000", "model-00")
    (pipeline,) = template.find_resources("AWS::CodePipeline::Pipeline", {"Properties": {
        "Name": "mf-team-000-model-00-deploy"}}).values()
    deploys = [a for s in pipeline["Properties"]["Stages"] for a in s["Actions"] if a["Name"].startswith("Deploy")]
    assert deploys and all("RoleArn" not in a for a in deploys)
    assert all("Fn::GetAtt" in a["Configuration"]["RoleArn"] for a in deploys)


def test_endpoints_in_a_target_account_report_to_a_topic_there_and_forward_drift_alarms(targets, foundation):
    for account, template in targets.items():
        template.has_resource_properties("AWS::SNS::Topic", {"TopicName": "mf-team-004-approvers",
                                                             "KmsMasterKeyId": Match.any_value()})
        template.has_resource_properties("AWS::SNS::Subscription", {"Endpoint": "leads-4@example.com"})
        template.has_resource_properties("AWS::Events::Rule", {
            "Name": "mf-team-004-monitoring-failures",
            "EventPattern": Match.object_like({"detail": Match.object_like({
                "ProcessingJobStatus": ["Failed"], "RoleArn": [f"arn:aws:iam::{account}:role/mf-team-004-sagemaker-execution"]})})})
        template.has_resource_properties("AWS::Events::Rule", {
            "Name": "mf-team-004-drift-run-failures",
            "EventPattern": Match.object_like({"detail": {"currentPipelineExecutionStatus": ["Failed"], "pipelineArn": [
                {"wildcard": f"arn:aws:sagemaker:{REGION}:{account}:pipeline/mf-team-004-*-{kind}"}
                for kind in ("drift", "batch")]}})})
        (forward,) = template.find_resources("AWS::Events::Rule", {"Properties": {
            "Name": "mf-team-004-forward-drift-alarms"}}).values()
        assert forward["Properties"]["EventPattern"] == {
            "source": ["aws.cloudwatch"], "detail-type": ["CloudWatch Alarm State Change"],
            "detail": {"alarmName": [{"wildcard": "mf-team-004-*-prod-drift*"}], "state": {"value": ["ALARM"]}}}
        (target,) = forward["Properties"]["Targets"]
        assert target["Arn"] == f"arn:aws:events:{REGION}:{FACTORY}:event-bus/default"
    policies = foundation.find_resources("AWS::Events::EventBusPolicy")
    assert sorted(p["Properties"]["Statement"]["Principal"]["AWS"] for p in policies.values()) == [
        f"arn:aws:iam::{a}:root" for a in TARGETS]
    assert {p["Properties"]["Statement"]["Action"] for p in policies.values()} == {"events:PutEvents"}


def test_the_target_sagemaker_role_runs_clarify_monitors_but_creates_no_build_models(targets):
    for account, template in targets.items():
        found = template.find_resources("AWS::IAM::Policy", {"Properties": {"Roles": [
            {"Ref": Match.string_like_regexp("SageMakerExecution")}]}})
        (policy,) = found.values()
        statements = {s.get("Sid"): s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
        assert sorted(statements["ClarifyShadowEndpoints"]["Resource"]) == [
            f"arn:aws:sagemaker:{REGION}:{account}:endpoint-config/sm-clarify-*",
            f"arn:aws:sagemaker:{REGION}:{account}:endpoint/sm-clarify-*"]
        assert "ClarifyBaselineModel" not in statements


def test_the_dashboard_reads_each_stage_from_the_account_it_runs_in(targets, foundation):
    """CloudWatch cross-account dashboards: metrics carry the source accountId, read through the role named
    CloudWatch-CrossAccountSharingRole in that account (CloudWatch user guide, cross-account cross-Region)."""
    for account, template in targets.items():
        sharing = role(template, "CloudWatch-CrossAccountSharingRole")
        assert sharing["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
            "AWS": f"arn:aws:iam::{FACTORY}:root"}
        assert len(sharing["ManagedPolicyArns"]) == 2
    (dashboard,) = foundation.find_resources("AWS::CloudWatch::Dashboard").values()
    body = json.loads("".join(p if isinstance(p, str) else "" for p in
                              dashboard["Properties"]["DashboardBody"]["Fn::Join"][1]))
    sagemaker_metrics = [m for w in body["widgets"] for m in w["properties"].get("metrics", [])
                         if m[0] == "AWS/SageMaker"]
    assert len(sagemaker_metrics) >= 4
    for metric in sagemaker_metrics:
        options = metric[-1] if isinstance(metric[-1], dict) else {}
        stage = "staging" if "-staging" in json.dumps(metric) else "prod"
        assert options.get("accountId") == TARGETS[0 if stage == "staging" else 1], metric
