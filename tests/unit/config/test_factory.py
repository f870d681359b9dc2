"""Every class of config error gives one line naming the field; a minimal file gets documented defaults."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from stacks.config.factory import load_config, parse_config
from stacks.config.fields import ConfigError
from tests.synth import ROOT

EXAMPLE = yaml.safe_load((ROOT / "config" / "factory.yaml").read_text())
MINIMAL = {
    "factory": {"name": "acme-ml"},
    "teams": [
        {"name": "fraud", "account": "111111111111", "monthly_budget_usd": 100,
         "approvers": ["a@acme.io"]}
    ],
}


def error_for(mutate) -> str:
    data = copy.deepcopy(EXAMPLE)
    mutate(data)
    with pytest.raises(ConfigError) as caught:
        parse_config(data, source="factory.yaml")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("factory.yaml: ")
    return message


def test_example_config_is_valid_and_resolves_team_defaults():
    config = load_config(ROOT / "config" / "factory.yaml")
    assert [team.name for team in config.teams] == ["fraud", "pricing"]
    pricing = config.teams[1]
    assert pricing.region == "eu-west-1"  # inherited from factory.region
    assert pricing.models[0].training.use_spot is False


def test_minimal_config_gets_documented_defaults():
    config = parse_config(MINIMAL, source="minimal.yaml")
    team = config.teams[0]
    assert config.factory.region == "us-east-1"
    assert config.factory.tags == {}
    assert team.region == "us-east-1"
    assert team.resolved_cost_center == "fraud"
    assert team.models == []


def test_model_defaults():
    data = copy.deepcopy(MINIMAL)
    data["teams"][0]["models"] = [{"name": "churn"}]
    model = parse_config(data, source="x").teams[0].models[0]
    assert model.problem_type == "binary_classification"
    assert (model.training.instance_type, model.training.use_spot, model.training.max_runtime_minutes) == (
        "ml.m5.xlarge", False, 120)


def test_unknown_key():
    message = error_for(lambda d: d["teams"][0].update(budget=5))
    assert message == "factory.yaml: teams[0].budget: unknown key (got 5)"


def test_unknown_key_in_model_training():
    message = error_for(lambda d: d["teams"][0]["models"][0]["training"].update(gpus=4))
    assert message == "factory.yaml: teams[0].models[0].training.gpus: unknown key (got 4)"


def test_missing_required_key():
    message = error_for(lambda d: d["teams"][1].pop("monthly_budget_usd"))
    assert message == "factory.yaml: teams[1].monthly_budget_usd: is required (got nothing)"


def test_missing_teams():
    assert error_for(lambda d: d.pop("teams")) == "factory.yaml: teams: is required (got nothing)"


def test_empty_teams():
    assert error_for(lambda d: d.update(teams=[])).startswith("factory.yaml: teams: list should have at least 1")


def test_wrong_type():
    message = error_for(lambda d: d["teams"][0].update(monthly_budget_usd="lots"))
    assert message.startswith("factory.yaml: teams[0].monthly_budget_usd: input should be a valid number")
    assert message.endswith("(got 'lots')")


def test_wrong_type_for_boolean():
    message = error_for(lambda d: d["teams"][0]["models"][0]["training"].update(use_spot="sometimes"))
    assert message.startswith("factory.yaml: teams[0].models[0].training.use_spot: input should be a valid boolean")


@pytest.mark.parametrize("account", ["12345", "11111111111a", "1111111111111"])
def test_bad_account_id(account):
    message = error_for(lambda d: d["teams"][0].update(account=account))
    assert message == f"factory.yaml: teams[0].account: must be an AWS account id of exactly 12 digits (got {account!r})"


def test_unquoted_account_id_is_rejected_with_advice():
    message = error_for(lambda d: d["teams"][0].update(account=111111111111))
    assert message.startswith("factory.yaml: teams[0].account: must be a quoted string of 12 digits")


@pytest.mark.parametrize("name", ["Fraud", "ab", "1fraud", "fraud-", "fr--aud", "a" * 25, "fraud_team"])
def test_invalid_team_name(name):
    message = error_for(lambda d: d["teams"][0].update(name=name))
    assert message.startswith("factory.yaml: teams[0].name: must be 3-24 characters")
    assert message.endswith(f"(got {name!r})")


def test_invalid_model_name():
    message = error_for(lambda d: d["teams"][0]["models"][0].update(name="Card Fraud"))
    assert message.startswith("factory.yaml: teams[0].models[0].name: must be 3-24 characters")


def test_duplicate_team():
    message = error_for(lambda d: d["teams"][1].update(name="fraud"))
    assert message == "factory.yaml: teams[1].name: duplicate team name (got 'fraud')"


def test_duplicate_model_within_team():
    message = error_for(lambda d: d["teams"][0]["models"].append({"name": "card-fraud"}))
    assert message == "factory.yaml: teams[0].models[1].name: duplicate model name (got 'card-fraud')"


def test_same_model_name_in_two_teams_is_allowed():
    data = copy.deepcopy(EXAMPLE)
    data["teams"][1]["models"][0]["name"] = "card-fraud"
    parse_config(data, source="x")


@pytest.mark.parametrize("budget", [0, -5])
def test_non_positive_budget(budget):
    message = error_for(lambda d: d["teams"][0].update(monthly_budget_usd=budget))
    assert message == f"factory.yaml: teams[0].monthly_budget_usd: input should be greater than 0 (got {budget})"


def test_invalid_email():
    message = error_for(lambda d: d["teams"][1].update(approvers=["ok@acme.io", "not-an-email"]))
    assert message.startswith("factory.yaml: teams[1].approvers[1]: value is not a valid email address")
    assert message.endswith("(got 'not-an-email')")


def test_no_approvers():
    message = error_for(lambda d: d["teams"][0].update(approvers=[]))
    assert message.startswith("factory.yaml: teams[0].approvers: list should have at least 1 item")


@pytest.mark.parametrize("where", ["team", "factory"])
def test_unknown_region(where):
    if where == "team":
        message = error_for(lambda d: d["teams"][0].update(region="eu-middle-9"))
        assert message.startswith("factory.yaml: teams[0].region: is not an AWS region name")
    else:
        message = error_for(lambda d: d["factory"].update(region="mars-north-1"))
        assert message.startswith("factory.yaml: factory.region: is not an AWS region name")


def test_unknown_problem_type():
    message = error_for(lambda d: d["teams"][0]["models"][0].update(problem_type="ranking"))
    assert message.startswith("factory.yaml: teams[0].models[0].problem_type: input should be ")


def test_non_sagemaker_instance_type():
    message = error_for(lambda d: d["teams"][0]["models"][0]["training"].update(instance_type="g5.xlarge"))
    assert message.startswith("factory.yaml: teams[0].models[0].training.instance_type: must be a SageMaker")


def test_reserved_tag_key():
    message = error_for(lambda d: d["factory"]["tags"].update({"model-factory:team": "x"}))
    assert message.startswith("factory.yaml: factory.tags['model-factory:team']: tag keys starting with")


def test_top_level_not_a_mapping():
    with pytest.raises(ConfigError, match=r"^x.yaml: \(top level\): must be a mapping"):
        parse_config(["teams"], source="x.yaml")


def test_yaml_syntax_error_names_the_line(tmp_path: Path):
    path = tmp_path / "broken.yaml"
    path.write_text("factory:\n  name: acme-ml\nteams:\n  - name: fraud\n    account: [1, 2\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: line ")
    assert "invalid YAML" in message
    assert "\n" not in message


def test_missing_file(tmp_path: Path):
    with pytest.raises(ConfigError, match="cannot read the config file"):
        load_config(tmp_path / "absent.yaml")


def test_model_build_defaults():
    data = copy.deepcopy(MINIMAL)
    data["teams"][0]["models"] = [{"name": "churn"}, {"name": "price", "problem_type": "regression"}]
    churn, price = parse_config(data, source="x").teams[0].models
    assert (churn.source.provider, churn.source.branch, churn.retrain_schedule) == ("codecommit", "main", None)
    assert (churn.quality_gate.metric, churn.quality_gate.threshold) == ("auc", 0.8)
    assert churn.training.instance_count == 1
    assert (price.quality_gate.metric, price.quality_gate.threshold) == ("r2", 0.5)


@pytest.mark.parametrize("schedule", ["daily", "rate(1 days)", "rate(0 hours)", "cron(0 3 * * *)",
                                      "cron(0 3 * * * *)"])
def test_invalid_retrain_schedule(schedule):
    message = error_for(lambda d: d["teams"][0]["models"][0].update(retrain_schedule=schedule))
    assert message.startswith("factory.yaml: teams[0].models[0].retrain_schedule: ")
    assert message.endswith(f"(got {schedule!r})")


@pytest.mark.parametrize("schedule", ["rate(1 day)", "rate(12 hours)", "cron(0 3 * * ? *)", "cron(0/15 8-18 ? * MON-FRI *)"])
def test_valid_retrain_schedule(schedule):
    data = copy.deepcopy(EXAMPLE)
    data["teams"][0]["models"][0]["retrain_schedule"] = schedule
    assert parse_config(data, source="x").teams[0].models[0].retrain_schedule == schedule


def test_unknown_quality_metric_for_the_problem_type():
    message = error_for(lambda d: d["teams"][0]["models"][0].update(quality_gate={"metric": "rmse", "threshold": 1}))
    assert message == ("factory.yaml: teams[0].models[0].quality_gate.metric: is not a binary_classification metric "
                       "(one of auc, accuracy, precision, recall, f1) (got 'rmse')")


@pytest.mark.parametrize("threshold", [0.0, 1.2, -0.1])
def test_quality_threshold_out_of_range(threshold):
    message = error_for(lambda d: d["teams"][0]["models"][0].update(quality_gate={"metric": "auc",
                                                                                  "threshold": threshold}))
    assert message == (f"factory.yaml: teams[0].models[0].quality_gate.threshold: must be in (0, 1] for auc "
                       f"(got {threshold!r})")


def test_codeconnections_source_without_connection_arn():
    message = error_for(lambda d: d["teams"][0]["models"][0].update(
        source={"provider": "codeconnections", "repository": "acme/fraud"}))
    assert message == "factory.yaml: teams[0].models[0].source.connection_arn: is required (got nothing)"


def test_codeconnections_source_with_a_malformed_arn():
    message = error_for(lambda d: d["teams"][0]["models"][0].update(
        source={"provider": "codeconnections", "repository": "acme/fraud", "connection_arn": "arn:aws:nope"}))
    assert message.startswith("factory.yaml: teams[0].models[0].source.connection_arn: must be a CodeConnections")


def test_unknown_source_provider():
    message = error_for(lambda d: d["teams"][0]["models"][0].update(source={"provider": "svn"}))
    assert message.startswith("factory.yaml: teams[0].models[0].source: input tag 'svn'")


def test_training_instance_count_must_be_positive():
    message = error_for(lambda d: d["teams"][0]["models"][0]["training"].update(instance_count=0))
    assert message == ("factory.yaml: teams[0].models[0].training.instance_count: input should be greater than "
                       "or equal to 1 (got 0)")


def test_monitoring_defaults_and_errors():
    data = copy.deepcopy(MINIMAL)
    data["teams"][0]["models"] = [{"name": "churn"}]
    monitoring = parse_config(data, source="x").teams[0].models[0].monitoring
    assert (monitoring.engine, monitoring.schedule, monitoring.threshold, monitoring.retrain_cooldown_hours) == (
        "factory", "cron(0 * ? * * *)", 0.2, 24)
    message = error_for(lambda d: d["teams"][0]["models"][0].update(monitoring={"schedule": "rate(1 hour)"}))
    assert message.startswith("factory.yaml: teams[0].models[0].monitoring.schedule: must be a Model Monitor cron(")
    message = error_for(lambda d: d["teams"][0]["models"][0].update(monitoring={"drift_threshold": 11}))
    assert message.startswith("factory.yaml: teams[0].models[0].monitoring.drift_threshold: input should be less")
    message = error_for(lambda d: d["teams"][0]["models"][0].update(monitoring={"retrain_cooldown_hours": 0}))
    assert message.startswith("factory.yaml: teams[0].models[0].monitoring.retrain_cooldown_hours: input should be")


def test_model_quality_needs_ground_truth():
    message = error_for(lambda d: d["teams"][0]["models"][0].update(monitoring={"model_quality": True}))
    assert message == ("factory.yaml: teams[0].models[0].monitoring.model_quality: needs ground_truth_s3_uri: "
                       "where the labelled outcomes of live requests arrive (got True)")
    message = error_for(lambda d: d["teams"][0]["models"][0].update(monitoring={"ground_truth_s3_uri": "/data"}))
    assert message.startswith("factory.yaml: teams[0].models[0].monitoring.ground_truth_s3_uri: must be an s3:// URI")
    config = parse_config(EXAMPLE, source="x")
    assert config.teams[0].models[0].monitoring.model_quality_enabled  # ground truth given: on by default
    assert not config.teams[1].models[0].monitoring.model_quality_enabled


def test_clarify_monitors_are_off_by_default_and_need_label_facet_and_ground_truth():
    monitoring = parse_config(EXAMPLE, source="x").teams[0].models[0].monitoring
    assert (monitoring.bias, monitoring.explainability, monitoring.label, monitoring.facet) == (False, False, None, None)

    def with_monitoring(**keys):
        return lambda d: d["teams"][0]["models"][0]["monitoring"].update(engine="model_monitor", **keys)

    message = error_for(with_monitoring(bias=True, facet={"name": "foreign", "values": [1]}))
    assert message == ("factory.yaml: teams[0].models[0].monitoring.label: is required when bias is true: "
                       "the label column whose outcomes Clarify compares between groups (got None)")
    message = error_for(with_monitoring(bias=True, label="is_fraud"))
    assert message.startswith("factory.yaml: teams[0].models[0].monitoring.facet: is required when bias is true")
    message = error_for(lambda d: d["teams"][1]["models"][0].update(
        monitoring={"engine": "model_monitor", "bias": True, "label": "y", "facet": {"name": "store"}}))
    assert message.startswith("factory.yaml: teams[1].models[0].monitoring.ground_truth_s3_uri: is required when "
                              "bias is true")
    message = error_for(with_monitoring(bias=True, label="is_fraud", facet={"values": [1]}))
    assert message.startswith("factory.yaml: teams[0].models[0].monitoring.facet.name: is required")
    config = parse_config(copy.deepcopy(EXAMPLE) | {"teams": [
        {**EXAMPLE["teams"][0], "models": [{**EXAMPLE["teams"][0]["models"][0], "monitoring": {
            **EXAMPLE["teams"][0]["models"][0]["monitoring"], "engine": "model_monitor", "bias": True, "label": "is_fraud",
            "facet": {"name": "foreign", "values": [1]}, "explainability": True}}]}]}, source="x")
    monitoring = config.teams[0].models[0].monitoring
    assert monitoring.bias and monitoring.explainability and monitoring.facet.values == [1]


def test_the_engine_decides_the_threshold_the_schedules_and_the_monitors():
    """Factory engine: PSI (default 0.2) on hourly, every-N-hours or daily runs; Model Monitor: its distance
    in [0, 1] (default 0.1); Clarify only with Model Monitor."""
    def model_monitoring(**keys):
        data = copy.deepcopy(MINIMAL)
        data["teams"][0]["models"] = [{"name": "churn", "monitoring": keys}]
        return parse_config(data, source="x").teams[0].models[0].monitoring

    assert model_monitoring(engine="model_monitor").threshold == 0.1
    assert model_monitoring(drift_threshold=1.5).threshold == 1.5
    message = error_for(lambda d: d["teams"][0]["models"][0].update(
        monitoring={"engine": "model_monitor", "drift_threshold": 1.5}))
    assert message == ("factory.yaml: teams[0].models[0].monitoring.drift_threshold: Model Monitor's "
                       "feature_baseline_drift is a distance in [0, 1] (got 1.5)")
    for schedule in ("cron(0 */6 ? * * *)", "cron(0 3 ? * * *)", "cron(0 1/2 ? * * *)"):
        assert model_monitoring(schedule=schedule).schedule == schedule
    message = error_for(lambda d: d["teams"][0]["models"][0].update(monitoring={"schedule": "cron(0 */5 ? * * *)"}))
    assert message == ("factory.yaml: teams[0].models[0].monitoring.schedule: every 5 hours: the interval must "
                       "divide 24 (1, 2, 3, 4, 6, 8, 12) (got 'cron(0 */5 ? * * *)')")
    message = error_for(lambda d: d["teams"][0]["models"][0].update(monitoring={"schedule": "cron(0 3 ? * MON *)"}))
    assert message.startswith("factory.yaml: teams[0].models[0].monitoring.schedule: the factory engine runs hourly")
    assert model_monitoring(engine="model_monitor", schedule="cron(0 3 ? * MON *)").schedule  # Model Monitor's own
    # EventBridge Scheduler needs "?" in one of day-of-month and day-of-week
    message = error_for(lambda d: d["teams"][0]["models"][0].update(monitoring={"schedule": "cron(0 * * * * *)"}))
    assert message.startswith("factory.yaml: teams[0].models[0].monitoring.schedule: the factory engine runs hourly")
    assert model_monitoring(schedule="cron(0 * * * ? *)").schedule
    # an alarm looks back at most 7 days (PutMetricAlarm: Period x EvaluationPeriods <= 604,800 s)
    message = error_for(lambda d: d["teams"][0]["models"][0].update(
        monitoring={"schedule": "cron(0 2 ? * * *)", "alarm_periods": 8, "alarm_datapoints": 2}))
    assert message == ("factory.yaml: teams[0].models[0].monitoring.alarm_periods: 8 runs of 24 h is more than the "
                       "168 h a CloudWatch alarm can look back (got 8)")
    message = error_for(lambda d: d["teams"][0]["models"][0]["monitoring"].update(
        bias=True, label="is_fraud", facet={"name": "foreign", "values": [1]}))
    assert message == ("factory.yaml: teams[0].models[0].monitoring.bias: needs engine: model_monitor (Clarify "
                       "monitors run as Model Monitor schedules; the factory engine has no bias or explainability "
                       "monitor) (got True)")


def test_model_monitor_and_clarify_get_a_one_line_warning_each():
    data = copy.deepcopy(EXAMPLE)
    data["teams"][0]["models"][0]["monitoring"].update(engine="model_monitor", explainability=True)
    warnings = [w for w in parse_config(data, source="x").warnings() if ".monitoring." in w]
    assert warnings == [
        "teams[0].models[0].monitoring.engine: model_monitor needs an account that already uses SageMaker Model "
        "Monitor (closed to new customers); the factory engine works in every account",
        "teams[0].models[0].monitoring.explainability: SageMaker Clarify is closed to new customers; needs an "
        "account that already uses it"]
    assert not [w for w in parse_config(EXAMPLE, source="x").warnings() if ".monitoring." in w]


def test_clarify_monitors_need_a_region_with_clarify():
    def il_central(d):
        d["teams"][0]["region"] = "il-central-1"
        d["teams"][0]["models"][0]["monitoring"].update(engine="model_monitor", explainability=True)

    message = error_for(il_central)
    assert message == ("factory.yaml: teams[0].models[0].monitoring.explainability: SageMaker Clarify is not "
                       "available in il-central-1 (the team's region) (got True)")


def test_team_and_model_names_must_fit_sagemaker_names():
    message = error_for(lambda d: d["teams"][0].update(name="fraud-detection-teams"))
    assert message == ("factory.yaml: teams[0].models[0].name: team and model names together are too long for "
                       "SageMaker: mf-fraud-detection-teams-card-fraud-staging-model-explainability has 64 "
                       "characters, at most 63 are allowed (got 'card-fraud')")


def test_target_accounts_default_to_the_team_account():
    team = parse_config(EXAMPLE, source="x").teams[0]
    assert (team.stage_account("staging"), team.stage_account("prod"), team.target_accounts) == (
        "111111111111", "111111111111", [])
    data = copy.deepcopy(EXAMPLE)
    data["teams"][0]["accounts"] = {"staging": "333333333333", "prod": "444444444444"}
    team = parse_config(data, source="x").teams[0]
    assert team.target_accounts == ["333333333333", "444444444444"]
    data["teams"][0]["accounts"] = {"staging": "333333333333"}
    team = parse_config(data, source="x").teams[0]
    assert (team.stage_account("prod"), team.target_accounts) == ("111111111111", ["333333333333"])


def test_target_account_errors_name_the_field():
    message = error_for(lambda d: d["teams"][0].update(accounts={"prod": "444444444444"}))
    assert message == ("factory.yaml: teams[0].accounts.staging: is required when accounts.prod is set: a model "
                       "reaches prod only through staging (got None)")
    message = error_for(lambda d: d["teams"][0].update(accounts={"staging": "333333333333", "prod": "222222222222"}))
    assert message == ("factory.yaml: teams[0].accounts.prod: is the factory account of team pricing: endpoints run "
                       "in the team's own factory account or in accounts of their own (got '222222222222')")
    message = error_for(lambda d: d["teams"][0].update(accounts={"staging": "33333333333"}))
    assert message == ("factory.yaml: teams[0].accounts.staging: must be an AWS account id of exactly 12 digits "
                       "(got '33333333333')")


def test_idle_gpu_guard_settings():
    staging = parse_config(EXAMPLE, source="x").teams[0].models[0].endpoint.staging
    assert (staging.idle_hours, staging.scale_idle_to_zero) == (12, True)  # the example turns it on
    default = parse_config(MINIMAL | {"teams": [{**MINIMAL["teams"][0], "models": [{"name": "churn"}]}]},
                           source="x").teams[0].models[0].endpoint.staging
    assert (default.idle_hours, default.scale_idle_to_zero) == (12, False)
    message = error_for(lambda d: d["teams"][0]["models"][0]["endpoint"]["prod"].update(scale_idle_to_zero=True))
    assert message.startswith("factory.yaml: teams[0].models[0].endpoint.prod.scale_idle_to_zero: needs "
                              "min_instances: 0")
    message = error_for(lambda d: d["teams"][0]["models"][0]["endpoint"]["prod"].update(
        scale_idle_to_zero=True, min_instances=0))
    assert message == ("factory.yaml: teams[0].models[0].endpoint.prod.scale_idle_to_zero: the idle-GPU guard "
                       "watches non-prod endpoints only (got True)")
    message = error_for(lambda d: d["teams"][0]["models"][0]["endpoint"]["staging"].update(idle_hours=0))
    assert message.startswith("factory.yaml: teams[0].models[0].endpoint.staging.idle_hours: input should be")


def test_budget_action_choices():
    assert parse_config(EXAMPLE, source="x").teams[0].budget_action == "manual"
    message = error_for(lambda d: d["teams"][0].update(budget_action="sometimes"))
    assert message == ("factory.yaml: teams[0].budget_action: input should be 'manual', 'automatic' or 'off' "
                       "(got 'sometimes')")


def training(update: dict):
    return lambda d: d["teams"][0]["models"][0]["training"].update(update)


def test_an_instance_type_the_training_api_rejects_names_the_api_and_the_sizes_it_accepts():
    # botocore's SageMaker service model: TrainingInstanceType has no inf2 (an inference chip) and no g5.large
    message = error_for(training({"instance_type": "ml.inf2.xlarge"}))
    assert message == ("factory.yaml: teams[0].models[0].training.instance_type: is not an instance type SageMaker "
                       "accepts for training (TrainingInstanceType) (got 'ml.inf2.xlarge')")
    message = error_for(training({"instance_type": "ml.g5.large"}))
    assert "g5 sizes it accepts: ml.g5.12xlarge, ml.g5.16xlarge" in message


@pytest.mark.parametrize("uri", ["mf-fraud-111111111111-eu-west-1/data/", "s3://", "s3://Bad_Bucket/data/",
                                 "s3://mf-fraud-111111111111-eu-west-1"])
def test_training_data_must_be_an_s3_prefix(uri):
    message = error_for(training({"data_s3_uri": uri}))
    assert message == (f"factory.yaml: teams[0].models[0].training.data_s3_uri: must be an s3:// prefix such as "
                       f"s3://<bucket>/<path>/ (got {uri!r})")


def test_training_data_outside_the_allowed_buckets_names_them():
    message = error_for(training({"data_s3_uri": "s3://somebody-else/data/"}))
    assert message == ("factory.yaml: teams[0].models[0].training.data_s3_uri: is outside the team's artifact bucket "
                       "and teams[0].data_buckets (mf-fraud-111111111111-eu-west-1) (got 's3://somebody-else/data/')")

    def allowed(d):
        d["teams"][0]["data_buckets"] = ["somebody-else"]
        d["teams"][0]["models"][0]["training"]["data_s3_uri"] = "s3://somebody-else/data"
    data = copy.deepcopy(EXAMPLE)
    allowed(data)
    model = parse_config(data, source="x").teams[0].models[0]
    assert model.training.data_s3_uri == "s3://somebody-else/data/"  # a prefix: the trailing '/' is added


def test_the_build_must_be_able_to_wait_for_training():
    # CodeBuild's timeoutInMinutes is at most 2160 (CodeBuild API reference, CreateProject); with spot the
    # training job may wait 2 x its runtime (MaxWaitTimeInSeconds), plus the build's margin of 120 minutes
    message = error_for(training({"use_spot": True, "max_runtime_minutes": 1100}))
    assert message == ("factory.yaml: teams[0].models[0].training.max_runtime_minutes: the build waits for training "
                       "(2 x 1100 min with spot) plus 120 min, more than CodeBuild's 2160-minute limit: at most 1020 "
                       "(got 1100)")
    data = copy.deepcopy(EXAMPLE)
    data["teams"][0]["models"][0]["training"].update(use_spot=True, max_runtime_minutes=1020)
    assert parse_config(data, source="x").teams[0].models[0].training.build_timeout_minutes == 2160


def test_one_label_column_and_features_without_it():
    message = error_for(lambda d: d["teams"][0]["models"][0].update(
        training={"label": "fraud"}, monitoring={"label": "is_fraud"}))
    assert message.startswith("factory.yaml: teams[0].models[0].monitoring.label: differs from training.label")
    message = error_for(training({"label": "y", "features": ["a", "y"]}))
    assert message.startswith("factory.yaml: teams[0].models[0].training.features: must not contain the label column")


def test_each_problem_type_has_its_seed_datas_label():
    data = copy.deepcopy(MINIMAL)
    data["teams"][0]["models"] = [{"name": "aaa"}, {"name": "bbb", "problem_type": "multiclass_classification"},
                                  {"name": "ccc", "problem_type": "regression", "training": {"label": "units"}}]
    assert [m.label for m in parse_config(data, source="x").teams[0].models] == ["is_fraud", "segment", "units"]


def test_prod_defaults_to_two_instances_and_one_is_warned_about(tmp_path):
    data = copy.deepcopy(MINIMAL)
    data["teams"][0]["models"] = [{"name": "churn"}]
    config = parse_config(data, source="x")
    assert config.teams[0].models[0].endpoint.prod.min_instances == 2 and config.warnings() == []
    data["teams"][0]["models"][0]["endpoint"] = {"prod": {"min_instances": 1, "initial_instances": 1}}
    assert parse_config(data, source="x").warnings() == [
        "teams[0].models[0].endpoint.prod.min_instances: 1 instance runs in one Availability Zone; 2 or more keep "
        "prod serving through an AZ outage"]
    path = tmp_path / "one.yaml"
    path.write_text(yaml.safe_dump(data))
    import subprocess
    import sys
    result = subprocess.run([sys.executable, "-m", "stacks.config", str(path)], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0
    assert [line for line in result.stderr.splitlines() if "warning" in line] == [
        f"{path}: warning: teams[0].models[0].endpoint.prod.min_instances: 1 instance runs in one Availability "
        "Zone; 2 or more keep prod serving through an AZ outage"]


def test_promotion_defaults_to_manual_and_the_prod_gate_follows_the_mode():
    data = copy.deepcopy(MINIMAL)
    data["teams"][0]["models"] = [{"name": "churn"}]
    promotion = parse_config(data, source="x").teams[0].models[0].promotion
    assert (promotion.mode, promotion.min_improvement, promotion.prod_gate) == ("manual", 0.0, "manual")
    message = error_for(lambda d: d["teams"][0]["models"][0].update(promotion={"prod_gate": "auto"}))
    assert message == ("factory.yaml: teams[0].models[0].promotion.prod_gate: auto needs mode: auto (only automatic "
                       "approvals skip the prod gate) (got 'auto')")


def test_teams_selects_the_named_teams_once_each_and_a_blank_list_means_the_whole_factory():
    config = load_config(ROOT / "config" / "factory.yaml")
    for blank in (None, "", " ", " , "):
        assert config.select(blank, source="factory.yaml") is None, repr(blank)  # every team and the catalog
    assert [t.name for t in config.select(" pricing , fraud,pricing", source="factory.yaml")] == ["pricing", "fraud"]
    with pytest.raises(ConfigError) as error:
        config.select("pricing,nope", source="factory.yaml")
    assert str(error.value) == "TEAMS: 'nope' is not a team of factory.yaml (teams: fraud, pricing)"
