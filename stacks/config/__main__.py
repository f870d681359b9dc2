"""`python -m stacks.config CONFIG_FILE`: validate a factory config; nothing on success, one line and exit 1
on the first error (make synth runs this before CDK starts)."""

from stacks.config.factory import load_config
from stacks.config.fields import check_file_cli

raise SystemExit(check_file_cli(load_config, "python -m stacks.config CONFIG_FILE"))
