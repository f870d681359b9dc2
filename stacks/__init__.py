"""Model Factory CDK code: the config model, stages, stacks and one construct per file."""
