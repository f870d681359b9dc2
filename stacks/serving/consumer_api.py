"""`ConsumerApi`: the team's HTTPS API of one stage, `POST /<model>/invocations` for every model whose stage has
`endpoint.<stage>.api`, integrated directly with the SageMaker runtime (no Lambda in the request path).

- The path names the model, not a version: the integration targets the endpoint by its fixed name
  (`mf-<team>-<model>-<stage>`), so every deploy, rollback or instance change keeps the URL.
- real time: `InvokeEndpoint` (`/endpoints/<name>/invocations`, with the inference component's header when
  the stage scales to zero); async: `InvokeEndpointAsync` (`/async-invocations`, the body inline, at most
  128,000 bytes), answered 202 with the answer's S3 location in `Location` (sagemaker-runtime service model:
  X-Amzn-SageMaker-OutputLocation / -FailureLocation).
- Auth: SigV4 (AWS_IAM) with the managed policy `mf-<team>-<model>-<stage>-invoke` app teams attach, or a JWT
  token authorizer (issuer and audience in config) whose answer API Gateway caches.
- A required Content-Type among the configured ones (anything else: 415), a web ACL refusing bodies above
  `max_request_kb`, per-method throttling, KMS-encrypted JSON access logs, X-Ray tracing on the stage, and
  alarms on 5XX and 4XX rates and p99 latency per model.
"""

from __future__ import annotations

from collections.abc import Mapping

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_ssm as ssm
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from stacks.common.arns import format_arn, stack_environment
from stacks.common.naming import (
    api_name,
    api_url_parameter,
    async_prefix,
    endpoint_name,
    invoke_policy_name,
    team_key_alias,
)
from stacks.common.nag import acknowledge_each
from stacks.common.shared_values import minutes
from stacks.config.endpoint import EndpointSettings, inference_component_name

API_NAMESPACE = "AWS/ApiGateway"
# AWS WAF body inspection limits for API Gateway (AssociationConfig RequestBody DefaultSizeInspectionLimit)
INSPECTION_LIMITS_KB = (16, 32, 48, 64)


class ConsumerApi(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, team: str, stage: str,
                 models: Mapping[str, EndpointSettings], bucket_name: str, bucket_account: str, key: kms.IKey,
                 alarm_topic: sns.ITopic, authorizer_function: lambda_.IFunction | None = None) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.team, self.stage, self.models = team, stage, dict(models)
        self.log_group = logs.LogGroup(self, "AccessLogs", log_group_name=f"/model-factory/{team}/api-{stage}",
                                       encryption_key=key, retention=logs.RetentionDays.ONE_YEAR,
                                       removal_policy=cdk.RemovalPolicy.RETAIN)
        self.api = apigw.RestApi(
            self, "Api", rest_api_name=api_name(team, stage),
            description=f"Model Factory: the {team} team's {stage} models (POST /<model>/invocations)",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            cloud_watch_role=False,  # ApiGatewayLogging sets the account's CloudWatch role
            deploy_options=apigw.StageOptions(
                stage_name=stage,
                access_log_destination=apigw.LogGroupLogDestination(self.log_group),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=True, http_method=True, ip=True, protocol=True, request_time=True, resource_path=True,
                    response_length=True, status=True, user=True),
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,  # request bodies are customer data: never in the execution log
                metrics_enabled=True,  # per-method metrics (ApiName, Method, Resource, Stage) for the alarms
                tracing_enabled=True,
                method_options={f"/{model}/invocations/POST": apigw.MethodDeploymentOptions(
                    throttling_rate_limit=settings.api.throttle_rps, throttling_burst_limit=settings.api.burst)
                    for model, settings in self.models.items()},
            ),
        )
        # the required Content-Type header; bodies are checked by type (templates) and size (web ACL), and a
        # body model would only apply to JSON
        self.validator = self.api.add_request_validator("ContentType", validate_request_parameters=True,
                                                        validate_request_body=True)
        self.role = self._integration_role(stack)
        self.authorizer = apigw.TokenAuthorizer(
            self, "JwtAuthorizer", handler=authorizer_function, results_cache_ttl=minutes(5),
            identity_source=apigw.IdentitySource.header("Authorization"),
        ) if authorizer_function is not None else None
        self.methods: dict[str, apigw.Method] = {}
        self.urls: dict[str, str] = {}
        self.alarms: dict[str, list[cloudwatch.Alarm]] = {}
        self.policies: dict[str, iam.ManagedPolicy] = {}
        action = cw_actions.SnsAction(alarm_topic)
        for model, settings in self.models.items():
            self.methods[model] = self._method(model, settings)
            self.urls[model] = self.api.url_for_path(f"/{model}/invocations")
            ssm.StringParameter(self, f"Url-{model}", parameter_name=api_url_parameter(team, model, stage),
                                string_value=self.urls[model],
                                description=f"{team}/{model} {stage}: POST here ({settings.mode})")
            self.alarms[model] = self._alarms(model, settings)
            for alarm in self.alarms[model]:
                alarm.add_alarm_action(action)
                alarm.add_ok_action(action)
            policy = self._invoke_policy(stack, model, settings, bucket_name, bucket_account)
            if policy is not None:
                self.policies[model] = policy
        self.web_acl = self._web_acl(stack)
        self._acknowledge(stack)

    # --- requests ----------------------------------------------------------------------------------
    def _integration_role(self, stack: cdk.Stack) -> iam.Role:
        """API Gateway calls the SageMaker runtime as this role: exactly this stage's endpoints (and the
        inference components of those that scale to zero)."""
        role = iam.Role(self, "IntegrationRole", role_name=f"mf-{self.team}-api-{self.stage}",
                        assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com", conditions={
                            "StringEquals": {"aws:SourceAccount": stack_environment(stack).account}}),
                        description=f"Model Factory: the {self.team} team's {self.stage} API invokes its endpoints")
        resources = []
        for model, settings in self.models.items():
            name = endpoint_name(self.team, model, self.stage)
            resources.append(format_arn(stack, service="sagemaker", resource="endpoint", resource_name=name))
            if settings.scale_to_zero:
                resources.append(format_arn(stack, service="sagemaker", resource="inference-component",
                                                  resource_name=inference_component_name(name)))
        actions = sorted({"sagemaker:InvokeEndpointAsync" if s.is_async else "sagemaker:InvokeEndpoint"
                          for s in self.models.values()})
        role.add_to_policy(iam.PolicyStatement(sid="InvokeThisStagesEndpoints", actions=actions, resources=resources))
        return role

    def _method(self, model: str, settings: EndpointSettings) -> apigw.Method:
        name = endpoint_name(self.team, model, self.stage)
        api = settings.api
        # the model's input type: without the mapping a templated request reaches the runtime as JSON
        forwarded = {"integration.request.header.Content-Type": "method.request.header.Content-Type",
                     "integration.request.header.Accept": "method.request.header.Accept"}
        if settings.is_async:
            path = f"endpoints/{name}/async-invocations"
            # InvokeEndpointAsync takes the payload's type in its own headers (botocore sagemaker-runtime)
            forwarded = {"integration.request.header.X-Amzn-SageMaker-Content-Type": "method.request.header.Content-Type",
                         "integration.request.header.X-Amzn-SageMaker-Accept": "method.request.header.Accept"}
        else:
            path = f"endpoints/{name}/invocations"
            if settings.scale_to_zero:
                forwarded["integration.request.header.X-Amzn-SageMaker-Inference-Component"] = (
                    f"'{inference_component_name(name)}'")
        success = "202" if settings.is_async else "200"
        success_headers = ({"method.response.header.Location":
                            "integration.response.header.X-Amzn-SageMaker-OutputLocation",
                            "method.response.header.X-Amzn-SageMaker-FailureLocation":
                            "integration.response.header.X-Amzn-SageMaker-FailureLocation"}
                           if settings.is_async else
                           # the model's answer type (text/csv), not API Gateway's default application/json
                           {"method.response.header.Content-Type": "integration.response.header.Content-Type"})
        integration = apigw.AwsIntegration(
            service="runtime.sagemaker", path=path, integration_http_method="POST",
            options=apigw.IntegrationOptions(
                credentials_role=self.role,
                # a Content-Type without a template is refused with 415 (no passthrough)
                passthrough_behavior=apigw.PassthroughBehavior.NEVER,
                request_templates={content_type: "$input.body" for content_type in api.content_types},
                request_parameters=forwarded,
                integration_responses=[
                    apigw.IntegrationResponse(status_code=success, response_parameters=success_headers),
                    # "try again": throttling, or a scale-to-zero model still waking (ModelNotReadyException)
                    apigw.IntegrationResponse(status_code="429", selection_pattern="429"),
                    # the model failed on this input (ModelError)
                    apigw.IntegrationResponse(status_code="424", selection_pattern="424"),
                    # the runtime's other client errors (ValidationError 400, ...) stay client errors
                    apigw.IntegrationResponse(status_code="400", selection_pattern=r"4\d{2}"),
                    apigw.IntegrationResponse(status_code="502", selection_pattern=r"5\d{2}"),
                ],
            ),
        )
        resource = self.api.root.resource_for_path(f"/{model}/invocations")
        auth = ({"authorization_type": apigw.AuthorizationType.CUSTOM, "authorizer": self.authorizer}
                if api.auth == "jwt" else {"authorization_type": apigw.AuthorizationType.IAM})
        return resource.add_method(
            "POST", integration, **auth,
            request_validator=self.validator,
            request_parameters={"method.request.header.Content-Type": True, "method.request.header.Accept": False},
            method_responses=[
                apigw.MethodResponse(status_code=success, response_parameters={header: True for header in success_headers}),
                *(apigw.MethodResponse(status_code=code) for code in ("429", "424", "400", "502"))],
        )

    def _web_acl(self, stack: cdk.Stack) -> wafv2.CfnWebACL:
        """Bodies above each model's `max_request_kb` are blocked before they reach API Gateway; a body larger
        than WAF inspects counts as too large (OversizeHandling MATCH)."""
        limits = {m: s.api.max_request_kb for m, s in self.models.items() if s.api.max_request_kb is not None}
        inspection_kb = next((kb for kb in INSPECTION_LIMITS_KB if kb >= max(limits.values(), default=16)), 64)
        rules = []
        for priority, (model, kb) in enumerate(sorted(limits.items())):
            rules.append(wafv2.CfnWebACL.RuleProperty(
                name=f"{model}-max-{kb}kb", priority=priority,
                action=wafv2.CfnWebACL.RuleActionProperty(block=wafv2.CfnWebACL.BlockActionProperty(
                    custom_response=wafv2.CfnWebACL.CustomResponseProperty(response_code=413))),
                statement=wafv2.CfnWebACL.StatementProperty(and_statement=wafv2.CfnWebACL.AndStatementProperty(
                    statements=[
                        wafv2.CfnWebACL.StatementProperty(byte_match_statement=wafv2.CfnWebACL.ByteMatchStatementProperty(
                            field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(uri_path={}),
                            positional_constraint="CONTAINS", search_string=f"/{model}/invocations",
                            # a percent-encoded or trailing-slash form of the path matches too
                            text_transformations=[wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="URL_DECODE")])),
                        wafv2.CfnWebACL.StatementProperty(size_constraint_statement=wafv2.CfnWebACL.SizeConstraintStatementProperty(
                            field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(
                                body=wafv2.CfnWebACL.BodyProperty(oversize_handling="MATCH")),
                            comparison_operator="GT", size=kb * 1024,
                            text_transformations=[wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="NONE")])),
                    ])),
                visibility_config=self._visibility(f"{model}-max-body")))
        acl = wafv2.CfnWebACL(
            self, "WebAcl", name=api_name(self.team, self.stage), scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            description=f"Request size limits of the {self.team} {self.stage} API",
            rules=rules, visibility_config=self._visibility("all"),
            association_config=wafv2.CfnWebACL.AssociationConfigProperty(request_body={
                "API_GATEWAY": wafv2.CfnWebACL.RequestBodyAssociatedResourceTypeConfigProperty(
                    default_size_inspection_limit=f"KB_{inspection_kb}")}))
        wafv2.CfnWebACLAssociation(self, "WebAclAssociation", web_acl_arn=acl.attr_arn,
                                   resource_arn=self.api.deployment_stage.stage_arn)
        return acl

    def _visibility(self, metric: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
        return wafv2.CfnWebACL.VisibilityConfigProperty(
            cloud_watch_metrics_enabled=True, sampled_requests_enabled=False,
            metric_name=f"{api_name(self.team, self.stage)}-{metric}")

    # --- callers -------------------------------------------------------------------------------------
    def _invoke_policy(self, stack: cdk.Stack, model: str, settings: EndpointSettings, bucket_name: str,
                       bucket_account: str) -> iam.ManagedPolicy | None:
        """What an app team attaches to call the model: SigV4 calls of exactly this method (auth: iam) and, for
        async, reading the answers and failures SageMaker writes for this endpoint."""
        stack_env = stack_environment(stack)
        statements = []
        if settings.api.auth == "iam":
            statements.append(iam.PolicyStatement(sid="CallTheModel", actions=["execute-api:Invoke"],
                                                  resources=[self.methods[model].method_arn]))
        if settings.is_async:
            prefix = async_prefix(endpoint_name(self.team, model, self.stage))
            bucket_arn = f"arn:{stack_env.partition}:s3:::{bucket_name}"
            statements.append(iam.PolicyStatement(
                sid="ReadTheAnswers", actions=["s3:GetObject"],
                resources=[f"{bucket_arn}/{prefix}/output/*", f"{bucket_arn}/{prefix}/failures/*"]))
            statements.append(iam.PolicyStatement(
                sid="DecryptTheAnswers", actions=["kms:Decrypt"],
                resources=[format_arn(stack, service="kms", account=bucket_account, resource="key", resource_name="*")],
                conditions={"ForAnyValue:StringEquals": {"kms:ResourceAliases": team_key_alias(self.team)},
                            "StringEquals": {"kms:ViaService": f"s3.{stack_env.region}.amazonaws.com"}}))
        if not statements:
            return None  # auth: jwt on a real-time model: the token is the whole credential
        policy = iam.ManagedPolicy(
            self, f"InvokePolicy-{model}", managed_policy_name=invoke_policy_name(self.team, model, self.stage),
            description=f"Call {self.team}/{model} ({self.stage}) through its API", statements=statements)
        reasons = {}
        if settings.is_async:
            prefix = async_prefix(endpoint_name(self.team, model, self.stage))
            for kind in ("output", "failures"):
                reasons[f"AwsSolutions-IAM5[Resource::arn:{stack_env.partition}:s3:::{bucket_name}/{prefix}/{kind}/*]"] = (
                    f"SageMaker names each asynchronous {kind} object; only this endpoint's prefix.")
            reasons[f"AwsSolutions-IAM5[Resource::arn:{stack_env.partition}:kms:{stack_env.region}:{bucket_account}:key/*]"] = (
                f"Decrypt through S3 only, of the key aliased {team_key_alias(self.team)} (its id lives in the "
                "team's factory stack).")
        if reasons:
            acknowledge_each(policy, reasons)
        return policy

    # --- alarms --------------------------------------------------------------------------------------
    def _metric(self, model: str, name: str, statistic: str) -> cloudwatch.Metric:
        """Per-method API Gateway metrics (detailed metrics on): ApiName, Method, Resource, Stage."""
        return cloudwatch.Metric(namespace=API_NAMESPACE, metric_name=name, statistic=statistic,
                                 period=minutes(5),
                                 dimensions_map={"ApiName": api_name(self.team, self.stage), "Method": "POST",
                                                 "Resource": f"/{model}/invocations", "Stage": self.stage})

    def _alarms(self, model: str, settings: EndpointSettings) -> list[cloudwatch.Alarm]:
        api, name = settings.api, endpoint_name(self.team, model, self.stage)
        count = self._metric(model, "Count", "Sum")
        alarms = []
        for kind, metric_name, threshold in (("5xx", "5XXError", api.errors_5xx_percent),
                                             ("4xx", "4XXError", api.errors_4xx_percent)):
            alarms.append(cloudwatch.Alarm(
                self, f"{model}-{kind}", alarm_name=f"{name}-api-{kind}",
                alarm_description=f"More than {threshold:g} % of the calls to {self.team}/{model} ({self.stage}) "
                                  f"answer {kind.upper()}",
                metric=cloudwatch.MathExpression(
                    expression="IF(calls > 0, 100 * errors / calls, 0)", label=f"{kind.upper()} % of calls",
                    using_metrics={"errors": self._metric(model, metric_name, "Sum"), "calls": count},
                    period=minutes(5)),
                threshold=threshold, evaluation_periods=2, datapoints_to_alarm=2,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING))
        alarms.append(cloudwatch.Alarm(
            self, f"{model}-latency", alarm_name=f"{name}-api-latency-p99",
            alarm_description=f"p99 latency of {self.team}/{model} ({self.stage}) through its API above "
                              f"{api.latency_p99_ms:g} ms",
            metric=self._metric(model, "Latency", "p99"),  # milliseconds
            threshold=api.latency_p99_ms, evaluation_periods=3, datapoints_to_alarm=2,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING))
        return alarms

    # --- findings ------------------------------------------------------------------------------------
    def _acknowledge(self, stack: cdk.Stack) -> None:
        for model, method in self.methods.items():
            auth = self.models[model].api.auth
            acknowledge_each(method.node.default_child, {
                "AwsSolutions-COG4": (
                    "Callers authenticate with SigV4 (AWS_IAM) and the invoke policy, or with the JWT issuer in the "
                    "config through the token authorizer; no Cognito user pool is assumed."
                    if auth == "iam" else
                    "Callers present a JWT of the configured issuer and audience, checked by the token authorizer.")})
