"""CloudWatch cross-account sharing in a separate staging/prod account: the role CloudWatch assumes (by this
exact name) when a dashboard in a factory account shows metrics of this account (CloudWatch user guide,
"Cross-account cross-Region CloudWatch console": CloudWatch-CrossAccountSharingRole with the AWS managed
policies CloudWatchReadOnlyAccess and CloudWatchAutomaticDashboardsAccess)."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_iam as iam
from constructs import Construct

from stacks.common.nag import acknowledge_each

SHARING_ROLE_NAME = "CloudWatch-CrossAccountSharingRole"
SHARING_POLICIES = ("CloudWatchReadOnlyAccess", "CloudWatchAutomaticDashboardsAccess")


class MetricSharing(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, reader_accounts: Sequence[str]) -> None:
        super().__init__(scope, construct_id)
        principals = [iam.AccountPrincipal(account) for account in sorted(set(reader_accounts))]
        self.role = iam.Role(
            self, "Role", role_name=SHARING_ROLE_NAME,
            description="CloudWatch: the factory accounts' dashboards read this account's metrics",
            assumed_by=iam.CompositePrincipal(*principals),
            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name(name) for name in SHARING_POLICIES])
        acknowledge_each(self.role.node.default_child, {
            f"AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/{name}]": (
                "CloudWatch cross-account sharing requires this AWS managed policy on this role by name; it is "
                "read-only and assumable only by the factory accounts.") for name in SHARING_POLICIES})
