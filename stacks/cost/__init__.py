"""Cost governance: the team budget with its stop-training action and the monthly showback by model."""
