"""The segment condition language: validation, the SQL compiler, the reference evaluator."""
