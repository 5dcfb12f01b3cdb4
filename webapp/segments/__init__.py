"""The segment condition language: one entry per condition type (`conditions/`), validation,
the SQL compiler, the reference evaluator, the definition in words."""
