"""``mf-<team>-target-<account>``: a separate staging/prod account made ready for the team's deploys."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from constructs import Construct

from stacks.deployment_target import DeploymentTarget


class TargetStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, *, team: str, models: Sequence[str],
                 factory_account: str, artifact_bucket_name: str, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        target = DeploymentTarget(self, "Target", team=team, models=models, factory_account=factory_account,
                                  artifact_bucket_name=artifact_bucket_name)
        for output, role in (("DeployActionRoleArn", target.deploy_action_role),
                             ("CfnExecutionRoleArn", target.cfn_execution_role),
                             ("SageMakerExecutionRoleArn", target.sagemaker_role)):
            cdk.CfnOutput(self, output, value=role.role_arn)
