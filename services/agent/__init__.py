"""agent: answers from the knowledge base or hands the case to a person."""
