"""How one stage of a model serves: the endpoint with its scaling, rollout and alarms, and the idle-GPU
guard."""
