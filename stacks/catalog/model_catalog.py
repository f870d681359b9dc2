"""`ModelCatalog`: the one catalog of a factory, in `factory.catalog` (default the first team's account).

- The event bus `mf-catalog`: each team's factory account may put "Model Catalog Entry" events (source
  `model-factory.catalog`) on it and nothing else; EventBridge stamps every event with the sender's account.
- The function `mf-catalog-publish` checks each entry (the sender's account must be the factory account of the
  entry's team; the entry must be well formed) and stores it in the table `mf-catalog` (team, model#stage),
  never replacing a newer one; a refused entry is one log line and a RefusedEntries datapoint, alarmed.
- The role `mf-catalog-reader` (people and tools of the catalog account) may read the table, nothing else.
Everything is encrypted with the catalog's own KMS key."""

from __future__ import annotations

import json
from collections.abc import Mapping

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from stacks.common.arns import format_arn, stack_environment
from stacks.common.naming import CATALOG_BUS, CATALOG_DETAIL_TYPE, CATALOG_READER_ROLE, CATALOG_SOURCE, CATALOG_TABLE
from stacks.common.shared_values import days, hours, minutes, service_principal
from stacks.common.team_function import TeamFunction, team_table


class ModelCatalog(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, team_accounts: Mapping[str, str]) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        stack_env = stack_environment(stack)
        self.key = kms.Key(self, "Key", alias="mf-catalog", description="Model Factory: the model catalog",
                           enable_key_rotation=True, pending_window=days(30),
                           removal_policy=cdk.RemovalPolicy.RETAIN)
        self.topic = sns.Topic(self, "Notifications", topic_name="mf-catalog", master_key=self.key, enforce_ssl=True,
                               display_name="Model Factory catalog: refused entries and failed publishing")
        self.table = team_table(self, "Entries", table_name=CATALOG_TABLE, partition_key="team", sort_key="key",
                                key=self.key, deletion_protection=True)
        publish = TeamFunction(
            self, "Publish", team="catalog", name="publish", code="catalog_publish", key=self.key, topic=self.topic,
            description="Checks and stores the model catalog entries the team accounts publish",
            environment={"CATALOG_TABLE_NAME": self.table.table_name,
                         "TEAM_ACCOUNTS": json.dumps(dict(sorted(team_accounts.items())))})
        self.function = publish.function
        self.table.grant(self.function, "dynamodb:PutItem")
        senders = sorted(set(team_accounts.values()))
        self.bus = events.EventBus(self, "Bus", event_bus_name=CATALOG_BUS, kms_key=self.key,
                                   description="Model Factory: catalog entries of the teams' deploys")
        # EventBridge sends an entry it could not deliver to the rule's dead-letter queue, encrypted with this key
        # (SQS developer guide, "Key management": the sending service needs GenerateDataKey and Decrypt); the
        # bus's own use of the key is granted by CDK with the bus's encryption context
        rule_arn = format_arn(stack, service="events", resource="rule", resource_name=f"{CATALOG_BUS}/mf-catalog-entries")
        self.key.add_to_resource_policy(iam.PolicyStatement(
            sid="EventBridgeDeadLettersEntries", principals=[service_principal("events.amazonaws.com")],
            actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=["*"],
            conditions={"ArnEquals": {"aws:SourceArn": rule_arn}}))
        # only entries, only from the teams' factory accounts (the publish function checks the team per account)
        self.bus_policy = events.CfnEventBusPolicy(
            self, "BusPolicy", event_bus_name=self.bus.event_bus_name, statement_id="TeamAccountsPublishEntries",
            statement={"Effect": "Allow", "Action": "events:PutEvents", "Resource": self.bus.event_bus_arn,
                       "Principal": {"AWS": [f"arn:{stack_env.partition}:iam::{a}:root" for a in senders]},
                       "Condition": {"StringEquals": {"events:source": CATALOG_SOURCE,
                                                      "events:detail-type": CATALOG_DETAIL_TYPE}}})
        self.rule = events.Rule(
            self, "Entries-Rule", event_bus=self.bus, rule_name="mf-catalog-entries",
            description="Catalog entries -> the publish function",
            event_pattern=events.EventPattern(source=[CATALOG_SOURCE], detail_type=[CATALOG_DETAIL_TYPE]),
            targets=[targets.LambdaFunction(self.function, dead_letter_queue=publish.dead_letters, retry_attempts=4,
                                            max_event_age=hours(6))])
        self.refused_alarm = cloudwatch.Alarm(
            self, "RefusedAlarm", alarm_name="mf-catalog-refused-entries",
            alarm_description="The catalog refused an entry (malformed, or from an account that does not own the "
                              "team): see the mf-catalog-publish log",
            metric=cloudwatch.Metric(namespace="ModelFactory", metric_name="RefusedEntries", statistic="Sum",
                                     dimensions_map={"service": "catalog-publish"}, period=minutes(5)),
            threshold=1, evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING)
        self.refused_alarm.add_alarm_action(cw_actions.SnsAction(self.topic))
        self.reader = iam.Role(self, "Reader", role_name=CATALOG_READER_ROLE,
                               assumed_by=iam.AccountPrincipal(stack_env.account),
                               description="Model Factory: read the model catalog (make catalog, the catalog site)")
        self.reader.add_to_policy(iam.PolicyStatement(
            sid="ReadTheCatalog", actions=["dynamodb:Scan", "dynamodb:Query", "dynamodb:GetItem",
                                           "dynamodb:DescribeTable"], resources=[self.table.table_arn]))
        self.reader.add_to_policy(iam.PolicyStatement(sid="DecryptTheCatalog", actions=["kms:Decrypt"],
                                                      resources=[self.key.key_arn]))
        publish.acknowledge({
            "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]": (
                "CDK's grant for publishing to the KMS-encrypted notification topic (the function's failures).")})
        cdk.CfnOutput(stack, "CatalogBusArn", value=self.bus.event_bus_arn)
        cdk.CfnOutput(stack, "CatalogReaderRoleArn", value=self.reader.role_arn)
