"""dispatcher: delivers replies through the channel providers, exactly once."""
