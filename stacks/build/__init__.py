"""The model build: the team repository and the CodePipeline that tests, upserts and runs the SageMaker
Pipeline which trains, evaluates and registers a model."""
