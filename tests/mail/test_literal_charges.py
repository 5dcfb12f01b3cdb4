"""A literal of constants is charged the same as any literal: its cost is worked out when
the template is compiled, not every time it is evaluated."""

from __future__ import annotations

import pytest

from webapp.mail.templating import MAX_ALLOCATED, RenderFailed, render

pytestmark = pytest.mark.no_database


def test_constant_literals_in_a_loop_still_run_out_of_the_allocation_budget():
    big = "x" * 20_000
    source = ('{% for i in range(1000) %}{% for j in range(1000) %}{% set kept = [("' + big + '", 1), {"k": ["'
              + big + '"]}] %}{% endfor %}{% endfor %}')
    with pytest.raises(RenderFailed, match=f"over {MAX_ALLOCATED >> 20} MB"):
        render(source, {})


@pytest.mark.parametrize(("literal", "printed"), [
    ('[("a", 1), ("b", [2, {"k": 3}])]', "('a', 1);('b', [2, {'k': 3}]);"),
    ('{"a": (1, 2), "b": []}', "a;b;"),
    ("()", ""),
    ('[customer.first_name, ("x",)]', "Ada;('x',);"),
])
def test_literals_of_constants_and_of_values_render_as_before(literal, printed):
    source = "{% for item in " + literal + " %}{{ item }};{% endfor %}"
    assert render(source, {"customer": {"first_name": "Ada"}}, html=False) == printed
