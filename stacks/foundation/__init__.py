"""A team's base resources: KMS key, artifact bucket, model package groups, approvers' topic and the
SageMaker execution role."""
