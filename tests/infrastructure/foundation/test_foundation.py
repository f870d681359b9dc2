"""The foundation stack of each team: the properties that make it secure and usable."""

from __future__ import annotations

from aws_cdk.assertions import Match

from stacks.common.naming import TAG_COST_CENTER, TAG_FACTORY, TAG_MODEL, TAG_TEAM
from tests.helpers import only as single

FRAUD_ACCOUNT = "111111111111"


def test_stack_names_and_environments(example_factory):
    for team, account in (("fraud", "111111111111"), ("pricing", "222222222222")):
        stack = example_factory.stages[team].foundation
        assert stack.stack_name == f"mf-{team}-foundation"
        assert (stack.account, stack.region) == (account, "eu-west-1")


def test_key_rotates_and_is_retained(fraud):
    fraud.has_resource("AWS::KMS::Key", {
        "Properties": {"EnableKeyRotation": True},
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
    })
    fraud.has_resource_properties("AWS::KMS::Alias", {"AliasName": "alias/mf-fraud"})


def test_artifact_bucket_is_encrypted_versioned_private_logged_and_retained(fraud):
    key_id, _ = single(fraud, "AWS::KMS::Key")
    logs_id, _ = single(fraud, "AWS::S3::Bucket", {"LoggingConfiguration": Match.absent()})
    fraud.has_resource("AWS::S3::Bucket", {
        "Properties": {
            "BucketEncryption": {"ServerSideEncryptionConfiguration": [{
                "BucketKeyEnabled": True,
                "ServerSideEncryptionByDefault": {
                    "SSEAlgorithm": "aws:kms",
                    "KMSMasterKeyID": {"Fn::GetAtt": [key_id, "Arn"]},
                },
            }]},
            "VersioningConfiguration": {"Status": "Enabled"},
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True, "BlockPublicPolicy": True,
                "IgnorePublicAcls": True, "RestrictPublicBuckets": True,
            },
            "LoggingConfiguration": {"DestinationBucketName": {"Ref": logs_id}, "LogFilePrefix": "artifacts/"},
            "LifecycleConfiguration": {"Rules": Match.array_with([Match.object_like({
                "Status": "Enabled",
                "NoncurrentVersionExpiration": {"NoncurrentDays": 90},
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
            })])},
        },
        "DeletionPolicy": "Retain",
    })


def test_every_bucket_denies_plain_http_and_old_tls(fraud):
    policies = fraud.find_resources("AWS::S3::BucketPolicy")
    assert len(policies) == 2
    for policy in policies.values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        conditions = [s["Condition"] for s in statements if s["Effect"] == "Deny"]
        assert {"Bool": {"aws:SecureTransport": "false"}} in conditions
        assert {"NumericLessThan": {"s3:TlsVersion": 1.2}} in conditions


def test_access_log_bucket_accepts_only_s3_log_delivery_from_the_artifact_bucket(fraud):
    artifacts_id, _ = single(fraud, "AWS::S3::Bucket", {"LoggingConfiguration": Match.any_value()})
    fraud.has_resource_properties("AWS::S3::BucketPolicy", {"PolicyDocument": {"Statement": Match.array_with([
        Match.object_like({
            "Effect": "Allow",
            "Principal": {"Service": "logging.s3.amazonaws.com"},
            "Action": "s3:PutObject",
            "Condition": {
                "ArnLike": {"aws:SourceArn": {"Fn::GetAtt": [artifacts_id, "Arn"]}},
                "StringEquals": {"aws:SourceAccount": FRAUD_ACCOUNT},
            },
        })
    ])}})


def test_one_model_package_group_per_model_named_described_tagged_retained(fraud, pricing):
    fraud.has_resource("AWS::SageMaker::ModelPackageGroup", {
        "Properties": {
            "ModelPackageGroupName": "mf-fraud-card-fraud",
            "ModelPackageGroupDescription": Match.string_like_regexp("card-fraud"),
            "Tags": Match.array_with([  # CDK renders tags sorted by key
                {"Key": TAG_COST_CENTER, "Value": "cc-1234"},
                {"Key": TAG_MODEL, "Value": "card-fraud"},
                {"Key": TAG_TEAM, "Value": "fraud"},
            ]),
        },
        "DeletionPolicy": "Retain",
    })
    fraud.resource_count_is("AWS::SageMaker::ModelPackageGroup", 1)
    pricing.has_resource_properties("AWS::SageMaker::ModelPackageGroup",
                                    {"ModelPackageGroupName": "mf-pricing-demand-forecast"})


def test_approver_topic_is_encrypted_and_subscribes_every_approver(fraud, pricing):
    key_id, _ = single(pricing, "AWS::KMS::Key")
    pricing.has_resource_properties("AWS::SNS::Topic", {
        "TopicName": "mf-pricing-approvers",
        "KmsMasterKeyId": {"Fn::GetAtt": [key_id, "Arn"]},
    })
    endpoints = {s["Properties"]["Endpoint"] for s in pricing.find_resources("AWS::SNS::Subscription").values()}
    assert endpoints == {"pricing-leads@example.com", "ml-platform@example.com"}
    pricing.has_resource_properties("AWS::SNS::Subscription", {"Protocol": "email"})


def test_sagemaker_role_trusts_only_sagemaker_in_this_account(fraud):
    fraud.has_resource_properties("AWS::IAM::Role", {
        "RoleName": "mf-fraud-sagemaker-execution",
        "AssumeRolePolicyDocument": {"Statement": [{
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Principal": {"Service": "sagemaker.amazonaws.com"},
            "Condition": {"StringEquals": {"aws:SourceAccount": FRAUD_ACCOUNT}},
        }]},
        "ManagedPolicyArns": Match.absent(),
    })


def test_sagemaker_role_policy_is_scoped_to_the_team(fraud):
    key_id, _ = single(fraud, "AWS::KMS::Key")
    artifacts_id, _ = single(fraud, "AWS::S3::Bucket", {"LoggingConfiguration": Match.any_value()})
    _, policy = single(fraud, "AWS::IAM::Policy", {"PolicyName": Match.string_like_regexp("^SageMakerExecution")})
    statements = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    assert statements["ArtifactBucket"]["Resource"] == {"Fn::GetAtt": [artifacts_id, "Arn"]}
    assert statements["ArtifactObjects"]["Resource"] == {
        "Fn::Join": ["", [{"Fn::GetAtt": [artifacts_id, "Arn"]}, "/*"]]}
    assert sorted(statements["ArtifactObjects"]["Action"]) == [
        "s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
    assert statements["TeamKey"]["Resource"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert statements["TeamKeyGrantsForVolumes"]["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}
    assert statements["ModelRegistry"]["Resource"] == [
        "arn:aws:sagemaker:eu-west-1:111111111111:model-package-group/mf-fraud-card-fraud",
        "arn:aws:sagemaker:eu-west-1:111111111111:model-package/mf-fraud-card-fraud/*",
    ]
    assert statements["JobLogs"]["Resource"] == "arn:aws:logs:eu-west-1:111111111111:log-group:/aws/sagemaker/*"
    assert statements["JobMetrics"]["Condition"] == {
        "StringLike": {"cloudwatch:namespace": ["/aws/sagemaker/*", "aws/sagemaker/*"]}}
    for statement in statements.values():
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert not [a for a in actions if "*" in a], f"wildcard action in {statement['Sid']}"


def test_every_taggable_resource_carries_team_cost_center_and_factory_tags(fraud):
    expected = [
        {"Key": TAG_COST_CENTER, "Value": "cc-1234"},
        {"Key": TAG_FACTORY, "Value": "acme-ml"},
        {"Key": TAG_TEAM, "Value": "fraud"},
        {"Key": "owner", "Value": "platform"},
    ]
    tagged_types = ["AWS::KMS::Key", "AWS::S3::Bucket", "AWS::SNS::Topic", "AWS::IAM::Role",
                    "AWS::SageMaker::ModelPackageGroup", "AWS::Lambda::Function", "AWS::SQS::Queue"]
    for resource_type in tagged_types:
        for logical_id, resource in fraud.find_resources(resource_type).items():
            tags = resource["Properties"].get("Tags", [])
            assert all(tag in tags for tag in expected), f"{logical_id} tags: {tags}"


def test_table_replicas_carry_the_team_tags(fraud):
    for table in fraud.find_resources("AWS::DynamoDB::GlobalTable").values():
        assert {"Key": TAG_TEAM, "Value": "fraud"} in table["Properties"]["Replicas"][0]["Tags"]


def test_alarms_and_rules_may_publish_to_the_encrypted_topic_from_this_account_only(fraud):
    topic_id, _ = single(fraud, "AWS::SNS::Topic")
    publishers = {"Service": ["cloudwatch.amazonaws.com", "events.amazonaws.com"]}
    from_this_account = {"StringEquals": {"aws:SourceAccount": FRAUD_ACCOUNT}}
    fraud.has_resource_properties("AWS::KMS::Key", {"KeyPolicy": {"Statement": Match.array_with([
        Match.object_like({"Sid": "AllowAlarmsAndRulesToEncryptedTopic", "Principal": publishers,
                           "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Condition": from_this_account})])}})
    fraud.has_resource_properties("AWS::SNS::TopicPolicy", {"PolicyDocument": {"Statement": Match.array_with([
        Match.object_like({"Sid": "AllowAlarmsAndRules", "Principal": publishers, "Action": "sns:Publish",
                           "Resource": {"Ref": topic_id}, "Condition": from_this_account})])}})


def test_clarify_shadow_endpoints_only_for_teams_with_clarify_monitors(fraud, many_team_factory):
    def statements(template):
        _, policy = single(template, "AWS::IAM::Policy", {"PolicyName": Match.string_like_regexp("^SageMakerExecution")})
        return {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}

    assert "ClarifyShadowEndpoints" not in statements(fraud)
    with_clarify = statements(many_team_factory.template("team-003"))
    account, region = "100000000003", "eu-west-1"
    assert sorted(with_clarify["ClarifyShadowEndpoints"]["Resource"]) == [
        f"arn:aws:sagemaker:{region}:{account}:endpoint-config/sm-clarify-*",
        f"arn:aws:sagemaker:{region}:{account}:endpoint/sm-clarify-*"]
    assert with_clarify["ClarifyReadsTheTeamsModels"]["Condition"] == {
        "StringEquals": {"aws:ResourceTag/model-factory:team": "team-003"}}
    assert sorted(with_clarify["ClarifyReadsTheTeamsModels"]["Action"]) == [
        "sagemaker:DescribeEndpoint", "sagemaker:DescribeEndpointConfig", "sagemaker:DescribeModel"]
    assert with_clarify["ClarifyBaselineModel"]["Resource"] == f"arn:aws:sagemaker:{region}:{account}:model/pipelines-*"
