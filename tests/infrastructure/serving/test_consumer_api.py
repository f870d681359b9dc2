"""The consumer API of a stage, on the example config's foundation stacks: fraud/card-fraud prod (real time,
SigV4) and pricing/demand-forecast staging (async, JWT). The integration URI and headers follow the
sagemaker-runtime service model (botocore: InvokeEndpoint POST /endpoints/{EndpointName}/invocations,
InvokeEndpointAsync POST /endpoints/{EndpointName}/async-invocations with X-Amzn-SageMaker-Content-Type, 202 and
X-Amzn-SageMaker-OutputLocation) and API Gateway's AWS integration URI form
(arn:aws:apigateway:{region}:{subdomain.service}:path/{path}, botocore apigateway Integration.uri)."""

from __future__ import annotations

import json

from aws_cdk.assertions import Match

from tests.helpers import only

FRAUD_ENDPOINT = "mf-fraud-card-fraud-prod"
PRICING_ENDPOINT = "mf-pricing-demand-forecast-staging"


def one(template, resource_type: str, props: dict) -> tuple[str, dict]:
    """The one resource of that type with those properties: (logical id, its properties)."""
    logical_id, resource = only(template, resource_type, props or None)
    return logical_id, resource["Properties"]


def method(template, path_part: str) -> dict:
    resources = template.find_resources("AWS::ApiGateway::Resource", {"Properties": {"PathPart": path_part}})
    (model_id,) = resources
    (invocations_id,) = template.find_resources("AWS::ApiGateway::Resource", {"Properties": {
        "PathPart": "invocations", "ParentId": {"Ref": model_id}}})
    (found,) = template.find_resources("AWS::ApiGateway::Method", {"Properties": {
        "ResourceId": {"Ref": invocations_id}, "HttpMethod": "POST"}}).values()
    return found["Properties"]


def test_real_time_model_is_integrated_directly_with_invoke_endpoint(fraud):
    props = method(fraud, "card-fraud")
    integration = props["Integration"]
    assert integration["Type"] == "AWS" and integration["IntegrationHttpMethod"] == "POST"
    assert integration["Uri"] == f"arn:aws:apigateway:eu-west-1:runtime.sagemaker:path/endpoints/{FRAUD_ENDPOINT}/invocations"
    # a content type with no template is refused (415); the model's type reaches the runtime
    assert integration["PassthroughBehavior"] == "NEVER"
    assert integration["RequestTemplates"] == {"text/csv": "$input.body"}
    assert integration["RequestParameters"] == {
        "integration.request.header.Content-Type": "method.request.header.Content-Type",
        "integration.request.header.Accept": "method.request.header.Accept"}
    # AWS (non-Lambda) integrations select their response on the runtime's HTTP status (API Gateway
    # IntegrationResponse.selectionPattern): 429 (throttled, or a scale-to-zero model waking) and 424
    # (ModelError) reach the caller as themselves
    responses = {r["StatusCode"]: r for r in integration["IntegrationResponses"]}
    assert [(code, r.get("SelectionPattern")) for code, r in responses.items()] == [
        ("200", None), ("429", "429"), ("424", "424"), ("400", r"4\d{2}"), ("502", r"5\d{2}")]
    assert responses["200"]["ResponseParameters"] == {
        "method.response.header.Content-Type": "integration.response.header.Content-Type"}
    assert [r["StatusCode"] for r in props["MethodResponses"]] == ["200", "429", "424", "400", "502"]
    assert not fraud.find_resources("AWS::Lambda::Function", {"Properties": {"FunctionName": Match.string_like_regexp("authorizer")}})


def test_sigv4_by_default_and_a_required_content_type(fraud):
    props = method(fraud, "card-fraud")
    assert props["AuthorizationType"] == "AWS_IAM"
    assert props["RequestParameters"] == {"method.request.header.Content-Type": True,
                                          "method.request.header.Accept": False}
    validator, _ = one(fraud, "AWS::ApiGateway::RequestValidator", {"ValidateRequestParameters": True})
    assert props["RequestValidatorId"] == {"Ref": validator}


def test_the_integration_role_invokes_exactly_the_stages_endpoints(fraud):
    role, _ = one(fraud, "AWS::IAM::Role", {"RoleName": "mf-fraud-api-prod"})
    fraud.has_resource_properties("AWS::IAM::Role", {"RoleName": "mf-fraud-api-prod", "AssumeRolePolicyDocument": {
        "Statement": [Match.object_like({"Principal": {"Service": "apigateway.amazonaws.com"},
                                         "Condition": {"StringEquals": {"aws:SourceAccount": "111111111111"}}})]}})
    fraud.has_resource_properties("AWS::IAM::Policy", {"Roles": [{"Ref": role}], "PolicyDocument": {"Statement": [{
        "Sid": "InvokeThisStagesEndpoints", "Effect": "Allow", "Action": "sagemaker:InvokeEndpoint",
        "Resource": f"arn:aws:sagemaker:eu-west-1:111111111111:endpoint/{FRAUD_ENDPOINT}"}]}})


def test_throttling_access_logs_and_tracing_on_the_stage(fraud):
    logs, log_group = one(fraud, "AWS::Logs::LogGroup", {"LogGroupName": "/model-factory/fraud/api-prod"})
    assert log_group["KmsKeyId"] and log_group["RetentionInDays"] == 365
    (stage,) = fraud.find_resources("AWS::ApiGateway::Stage").values()
    props = stage["Properties"]
    assert props["StageName"] == "prod" and props["TracingEnabled"] is True
    assert json.dumps(props["AccessLogSetting"]["DestinationArn"]).count(logs) == 1
    assert json.loads(props["AccessLogSetting"]["Format"])["status"] == "$context.status"
    settings = {(s["ResourcePath"], s["HttpMethod"]): s for s in props["MethodSettings"]}
    assert settings[("/*", "*")]["MetricsEnabled"] is True and settings[("/*", "*")]["DataTraceEnabled"] is False
    assert settings[("/*", "*")]["LoggingLevel"] == "ERROR"
    per_model = settings[("/~1card-fraud~1invocations", "POST")]
    assert (per_model["ThrottlingRateLimit"], per_model["ThrottlingBurstLimit"]) == (200, 400)


def test_the_account_logging_role_is_set_before_the_stage_and_outlives_the_stack(fraud):
    account, props = one(fraud, "AWS::ApiGateway::Account", {})
    # one setting per account and region: a deleted stack must not leave it pointing at a deleted role
    for logical_id in (account, one(fraud, "AWS::IAM::Role", {"RoleName": "mf-fraud-apigateway-logs-eu-west-1"})[0]):
        assert fraud.to_json()["Resources"][logical_id]["DeletionPolicy"] == "Retain"
    role, _ = one(fraud, "AWS::IAM::Role", {"RoleName": "mf-fraud-apigateway-logs-eu-west-1"})
    assert props["CloudWatchRoleArn"] == {"Fn::GetAtt": [role, "Arn"]}
    (stage,) = fraud.find_resources("AWS::ApiGateway::Stage").values()
    assert account in stage["DependsOn"]


def test_the_invoke_policy_allows_exactly_the_models_method(fraud):
    _, policy = one(fraud, "AWS::IAM::ManagedPolicy", {"ManagedPolicyName": "mf-fraud-card-fraud-prod-invoke"})
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Action"] == "execute-api:Invoke"
    assert statement["Resource"]["Fn::Join"][1][-1] == "/POST/card-fraud/invocations"


def test_the_web_acl_refuses_bodies_above_the_limit(fraud):
    acl, props = one(fraud, "AWS::WAFv2::WebACL", {"Name": "mf-fraud-prod"})
    assert props["Scope"] == "REGIONAL" and props["DefaultAction"] == {"Allow": {}}
    # AWS WAF inspects at most KB_64 of an API Gateway body; a larger body counts as a match (OversizeHandling)
    assert props["AssociationConfig"] == {"RequestBody": {"API_GATEWAY": {"DefaultSizeInspectionLimit": "KB_64"}}}
    (rule,) = props["Rules"]
    path, size = rule["Statement"]["AndStatement"]["Statements"]
    assert path["ByteMatchStatement"]["SearchString"] == "/card-fraud/invocations"
    assert path["ByteMatchStatement"]["TextTransformations"] == [{"Priority": 0, "Type": "URL_DECODE"}]
    assert size["SizeConstraintStatement"] == {"ComparisonOperator": "GT", "Size": 64 * 1024, "FieldToMatch": {
        "Body": {"OversizeHandling": "MATCH"}}, "TextTransformations": [{"Priority": 0, "Type": "NONE"}]}
    assert rule["Action"] == {"Block": {"CustomResponse": {"ResponseCode": 413}}}
    (association,) = fraud.find_resources("AWS::WAFv2::WebACLAssociation").values()
    assert association["Properties"]["WebACLArn"] == {"Fn::GetAtt": [acl, "Arn"]}


def test_alarms_on_error_rates_and_latency_per_model(fraud):
    dimensions = [{"Name": "ApiName", "Value": "mf-fraud-prod"}, {"Name": "Method", "Value": "POST"},
                  {"Name": "Resource", "Value": "/card-fraud/invocations"}, {"Name": "Stage", "Value": "prod"}]
    fraud.has_resource_properties("AWS::CloudWatch::Alarm", {
        "AlarmName": f"{FRAUD_ENDPOINT}-api-latency-p99", "Namespace": "AWS/ApiGateway", "MetricName": "Latency",
        "ExtendedStatistic": "p99", "Threshold": 1000, "Dimensions": Match.array_with(dimensions)})
    for kind, metric in (("5xx", "5XXError"), ("4xx", "4XXError")):
        _, alarm = one(fraud, "AWS::CloudWatch::Alarm", {"AlarmName": f"{FRAUD_ENDPOINT}-api-{kind}"})
        queries = {q["Id"]: q for q in alarm["Metrics"]}
        assert queries["errors"]["MetricStat"]["Metric"]["MetricName"] == metric
        assert sorted(queries["calls"]["MetricStat"]["Metric"]["Dimensions"], key=lambda d: d["Name"]) == dimensions


def test_the_url_is_recorded_for_the_deploys_client_snippet(fraud):
    _, parameter = one(fraud, "AWS::SSM::Parameter", {"Name": "/model-factory/fraud/card-fraud/prod/api-url"})
    assert json.dumps(parameter["Value"]).endswith('"/card-fraud/invocations"]]}')


def test_async_model_is_integrated_with_invoke_endpoint_async_and_answers_202_with_the_location(pricing):
    props = method(pricing, "demand-forecast")
    integration = props["Integration"]
    assert integration["Uri"] == (f"arn:aws:apigateway:eu-west-1:runtime.sagemaker:path/endpoints/{PRICING_ENDPOINT}"
                                  "/async-invocations")
    assert integration["RequestParameters"]["integration.request.header.X-Amzn-SageMaker-Content-Type"] == (
        "method.request.header.Content-Type")
    (success, *_) = integration["IntegrationResponses"]
    assert success["StatusCode"] == "202"
    assert success["ResponseParameters"]["method.response.header.Location"] == (
        "integration.response.header.X-Amzn-SageMaker-OutputLocation")


def test_jwt_models_use_the_cached_token_authorizer(pricing):
    props = method(pricing, "demand-forecast")
    authorizer, auth = one(pricing, "AWS::ApiGateway::Authorizer", {"Type": "TOKEN"})
    assert props["AuthorizationType"] == "CUSTOM" and props["AuthorizerId"] == {"Ref": authorizer}
    assert auth["IdentitySource"] == "method.request.header.Authorization"
    assert auth["AuthorizerResultTtlInSeconds"] == 300
    _, function = one(pricing, "AWS::Lambda::Function", {"FunctionName": "mf-pricing-jwt-authorizer-staging"})
    assert json.loads(function["Environment"]["Variables"]["JWT_SETTINGS"]) == {"demand-forecast": {
        "issuer": "https://login.example.com/oauth2/default", "audience": ["replenishment-planner"]}}


def test_a_jwt_async_model_gets_a_policy_to_read_its_answers_only(pricing):
    _, policy = one(pricing, "AWS::IAM::ManagedPolicy", {"ManagedPolicyName": "mf-pricing-demand-forecast-staging-invoke"})
    statements = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}
    assert sorted(statements) == ["DecryptTheAnswers", "ReadTheAnswers"]  # the JWT, not IAM, calls the API
    prefix = f"arn:aws:s3:::mf-pricing-222222222222-eu-west-1/async/{PRICING_ENDPOINT}"
    assert sorted(statements["ReadTheAnswers"]["Resource"]) == [f"{prefix}/failures/*", f"{prefix}/output/*"]
    assert statements["DecryptTheAnswers"]["Condition"]["StringEquals"] == {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}
