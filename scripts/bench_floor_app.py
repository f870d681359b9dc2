#!/usr/bin/env python3
"""The toolchain's floor for `make bench`: the smallest CDK app (one stack, one S3 bucket) synthesized by the
same pinned CLI, Python and Node as the factory, so synth figures read as multiples of what CDK itself costs."""

import aws_cdk as cdk
from aws_cdk import aws_s3 as s3

app = cdk.App()
stack = cdk.Stack(app, "Floor", env=cdk.Environment(account="111111111111", region="eu-west-1"))
s3.Bucket(stack, "Bucket")
app.synth()
