"""`python -m stacks.config CONFIG_FILE`: validate a factory config; nothing on success (warnings, one line
each, on stderr), one line and exit 1 on the first error (make synth runs this before CDK starts)."""

import sys

from stacks.config.factory import load_config
from stacks.config.fields import check_file_cli


def load_and_warn(path: str):
    config = load_config(path)
    for line in config.warnings():
        print(f"{path}: warning: {line}", file=sys.stderr)
    return config


raise SystemExit(check_file_cli(load_and_warn, "python -m stacks.config CONFIG_FILE"))
