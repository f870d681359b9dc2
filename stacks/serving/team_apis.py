"""The consumer APIs of one team in one account: one `ConsumerApi` per stage that serves a model with `api`,
the account's API Gateway logging role, and the JWT authorizer of each stage that has JWT models."""

from __future__ import annotations

import json
from collections.abc import Mapping

from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from stacks.common.team_function import TeamFunction
from stacks.config.endpoint import EndpointSettings
from stacks.serving.api_gateway_logging import ApiGatewayLogging
from stacks.serving.consumer_api import ConsumerApi


class TeamApis(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, team: str,
                 stages: Mapping[str, Mapping[str, EndpointSettings]], bucket_name: str, bucket_account: str,
                 key: kms.IKey, topic: sns.ITopic) -> None:
        super().__init__(scope, construct_id)
        self.logging = ApiGatewayLogging(self, "Logging", team=team)
        self.apis: dict[str, ConsumerApi] = {}
        self.authorizers: dict[str, TeamFunction] = {}
        for stage, models in stages.items():
            jwt = {model: {"issuer": s.api.issuer, "audience": list(s.api.audience)}
                   for model, s in models.items() if s.api.auth == "jwt"}
            authorizer = None
            if jwt:
                authorizer = TeamFunction(
                    self, f"JwtAuthorizer-{stage}", team=team, name=f"jwt-authorizer-{stage}", code="jwt_authorizer",
                    description=f"Checks the JWTs of the {stage} API's callers", key=key, topic=topic,
                    environment={"JWT_SETTINGS": json.dumps(jwt, sort_keys=True)})
                authorizer.acknowledge({"AwsSolutions-IAM5[Action::kms:GenerateDataKey*]": (
                    "CDK's grant for the function's KMS-encrypted dead-letter queue.")})
                self.authorizers[stage] = authorizer
            api = ConsumerApi(self, f"Api-{stage}", team=team, stage=stage, models=models, bucket_name=bucket_name,
                              bucket_account=bucket_account, key=key, alarm_topic=topic,
                              authorizer_function=authorizer.function if authorizer else None)
            # the stage's logging needs the account's CloudWatch role first
            api.api.deployment_stage.node.add_dependency(self.logging.account)
            self.apis[stage] = api
