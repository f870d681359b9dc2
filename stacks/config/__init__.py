"""The configuration the factory reads, validated once: the factory config (`factory`, `model`), a stage's
serving settings (`endpoint`), the deploy manifest (`manifest`, `monitoring`). No CDK constructs."""
