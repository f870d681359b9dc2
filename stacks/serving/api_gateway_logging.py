"""API Gateway writes a REST API's access and execution logs to CloudWatch Logs only with a role set in the
account's API Gateway settings (AWS::ApiGateway::Account CloudWatchRoleArn: "To enable CloudWatch Logs, you
must grant API Gateway permission to read and write logs to CloudWatch for your account", API Gateway
developer guide, set-up-logging; access and execution logging both). The setting is one per account and
region: every team stack with an API sets it to its own role, so that no stack depends on another team's deploy
order, and role and setting are retained when a stack goes, so that the setting never points at a deleted role
(what CDK itself does since 2.38; aws/aws-cdk#10878)."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from constructs import Construct

from stacks.common.arns import format_arn, stack_environment
from stacks.common.nag import acknowledge_each


class ApiGatewayLogging(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, team: str) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        stack_env = stack_environment(stack)
        self.role = iam.Role(
            self, "Role", role_name=f"mf-{team}-apigateway-logs-{stack_env.region}",
            assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com",
                                            conditions={"StringEquals": {"aws:SourceAccount": stack_env.account}}),
            description="Model Factory: API Gateway writes the APIs' access and execution logs")
        log_groups = format_arn(stack, service="logs", resource="log-group", resource_name="*",
                                      arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME)
        # what the AWS managed AmazonAPIGatewayPushToCloudWatchLogs policy allows, on this account's log groups
        self.role.add_to_policy(iam.PolicyStatement(
            sid="WriteApiLogs",
            actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogGroups",
                     "logs:DescribeLogStreams", "logs:PutLogEvents", "logs:GetLogEvents", "logs:FilterLogEvents"],
            resources=[log_groups]))
        self.role.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
        self.account = apigw.CfnAccount(self, "Account", cloud_watch_role_arn=self.role.role_arn)
        self.account.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
        self.account.node.add_dependency(self.role)
        acknowledge_each(self.role.node.find_child("DefaultPolicy").node.default_child, {
            f"AwsSolutions-IAM5[Resource::arn:{stack_env.partition}:logs:{stack_env.region}:{stack_env.account}:log-group:*]": (
                "API Gateway names the execution log groups itself (API-Gateway-Execution-Logs_<api id>/<stage>) "
                "and the setting serves every API of the account and region; assumable only by API Gateway here.")})
