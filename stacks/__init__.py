"""Model Factory CDK code. The modules at this root are what deploys (the team stage, its stacks and the
endpoint stack); each sub-package is one concern they are made of, one construct per file."""
