"""The configuration the factory reads, validated once: the factory config (`factory`, `model`), a stage's
serving settings (`endpoint`), the deploy manifest (`manifest`, `monitoring`), the instance table
(`instances`) and what a model's build is told (`pipeline_settings`). No CDK constructs."""
