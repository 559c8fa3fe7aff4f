"""identity: resolves the customer, conversation and ticket of every inbound message."""
