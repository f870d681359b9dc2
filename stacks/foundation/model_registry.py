"""One SageMaker Model Registry package group per model: the lineage every version lands in."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from stacks.common.naming import TAG_MODEL, model_package_group_name


class ModelRegistry(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, team: str, models: Sequence[str]) -> None:
        super().__init__(scope, construct_id)
        self.groups: dict[str, sagemaker.CfnModelPackageGroup] = {}
        for model in models:
            group = sagemaker.CfnModelPackageGroup(
                self,
                f"Group-{model}",
                model_package_group_name=model_package_group_name(team, model),
                model_package_group_description=(
                    f"Model Factory: every trained version of the {team} team's {model} model"
                ),
            )
            group.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
            cdk.Tags.of(group).add(TAG_MODEL, model)
            self.groups[model] = group

    def group_arns(self) -> list[str]:
        return [group.attr_model_package_group_arn for group in self.groups.values()]
