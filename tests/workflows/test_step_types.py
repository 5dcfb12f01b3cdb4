"""Each step type is one registry entry: the registry and the stored type names agree, and
every entry's default config (what "Add step" saves) passes its own validation."""

from __future__ import annotations

import pytest

from webapp.models.workflow import STEP_TYPES as STORED_TYPES
from webapp.services.workflows.steps import DEFAULT_STEP_CONFIG, STEP_TYPES, describe_step, validate_step


def test_the_registry_has_every_stored_step_type_in_the_builders_order():
    assert tuple(STEP_TYPES) == tuple(STORED_TYPES)


@pytest.mark.parametrize("step_type", list(STEP_TYPES))
def test_a_step_types_default_config_is_valid_and_described(app, step_type):
    config = validate_step(step_type, DEFAULT_STEP_CONFIG[step_type], step_ids=set())

    assert config == DEFAULT_STEP_CONFIG[step_type]
    assert describe_step(step_type, config) not in ("", step_type)
    assert {f.name for f in STEP_TYPES[step_type].form}, "the builder has fields to edit it"
