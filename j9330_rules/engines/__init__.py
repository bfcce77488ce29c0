"""The engines that run the rulesets over facts: the compiled Python engine and durable-rules."""
