"""What every concern shares: resource names and tags, cdk-nag helpers, the team Lambda construct, image
registries and Clarify's permissions. Imports nothing else from `stacks`."""
