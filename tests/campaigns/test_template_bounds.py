"""Templates are bounded before they allocate: every operation that builds a string or a
list is sized from its inputs first, no value may be larger than MAX_VALUE characters or
MAX_ITEMS items, and one render may allocate MAX_ALLOCATED bytes in all. A hostile template
fails with RenderFailed having allocated little (measured with tracemalloc), within the time
budget; functions print as nothing; ordinary newsletters render as before."""

from __future__ import annotations

import time
import tracemalloc

import jinja2.filters
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from jinja2.nodes import EvalContext
from markupsafe import Markup

from webapp.mail import template_call_costs, template_costs, templating
from webapp.mail.templating import MAX_SECONDS, RenderFailed, check_template, render

pytestmark = pytest.mark.no_database

PEAK_LIMIT = 50 * 2**20  # the old code took 200 to 450 MiB on these templates
WIDE = "\U0001F600"  # 4 bytes a character in a str
HUGE = "x" * 1_000_000
BOUNDED = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def refused_with_peak(source: str, context: dict | None = None, *, html: bool = True) -> tuple[RenderFailed, int]:
    """Render a template that must fail; return the failure and the peak bytes allocated meanwhile."""
    context = context or {}
    tracemalloc.start()
    try:
        with pytest.raises(RenderFailed) as failure:
            render(source, context, html=html)
        return failure.value, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def assert_refused_within_memory(source: str, context: dict | None = None, *, html: bool = True) -> RenderFailed:
    failure, peak = refused_with_peak(source, context, html=html)
    assert peak < PEAK_LIMIT, f"peak {peak / 2**20:.0f} MiB: {failure}"
    return failure


def kept_alive(expression: str, levels: int = 150) -> str:
    """A macro that builds `expression` once on each level of its recursion, and keeps each
    result alive until the recursion unwinds."""
    return ("{% macro keep(n) %}{% set v = " + expression + " %}{% if n %}{{ keep(n - 1) }}{% endif %}"
            "{{ v|length }}{% endmacro %}{{ keep(" + str(levels) + ") }}")


@given(count=st.integers(template_costs.MAX_VALUE + 1, 40_000_000), char=st.sampled_from(["x", "é", WIDE]))
@BOUNDED
def test_string_repetition_is_refused_before_it_allocates(count, char):
    failure = assert_refused_within_memory(f"{{{{ ('{char}' * {count})|length }}}}")
    assert "too large" in str(failure)


@given(count=st.integers(template_costs.MAX_ITEMS + 1, 5_000_000))
@BOUNDED
def test_list_repetition_is_refused_before_it_allocates(count):
    failure = assert_refused_within_memory(f"{{{{ (['x'] * {count})|length }}}}")
    assert "too large" in str(failure)


def test_repeated_strings_kept_alive_add_up_to_the_render_budget():
    failure = assert_refused_within_memory(kept_alive(f"'{WIDE}' * 999999", levels=40))
    assert "in total" in str(failure)


@given(count=st.integers(2, 200), separator=st.sampled_from(["", ", ", WIDE]))
@BOUNDED
def test_join_of_long_items_is_sized_from_the_items_before_joining(count, separator):
    context = {"customer": {"tags": [HUGE] * count}}
    for source in (f"{{{{ customer.tags|join('{separator}')|length }}}}",
                   f"{{{{ '{separator}'.join(customer.tags)|length }}}}"):
        assert "too large" in str(assert_refused_within_memory(source, context))


@pytest.mark.parametrize("source", [
    "{% set s = 'x' * 999999 %}{{ (('%(s)s' * 200) % {'s': s})|length }}",
    "{{ (('%s' * 200) % customer.parts)|length }}",
    "{{ ('%s' * 200)|format(*customer.parts)|length }}",
    "{{ ('%(s)s' * 200)|format(s=customer.parts[0])|length }}",
    "{{ ['%99999999d']|format(1)|length }}",  # a list is formatted as its repr, whose widths were never checked
], ids=["named", "tuple", "format-filter", "format-filter-named", "format-filter-on-a-list"])
def test_percent_formatting_with_many_long_arguments_is_refused_before_it_allocates(source):
    failure = assert_refused_within_memory(source, {"customer": {"parts": (HUGE,) * 200}})
    assert "too large" in str(failure)


@pytest.mark.parametrize("source", [
    "{% set s = 'x' * 999999 %}{{ ('{0}' * 200).format(s)|length }}",
    "{% set s = 'x' * 999999 %}{{ ('{s}' * 200).format_map({'s': s})|length }}",
    "{{ ('{0[0]}' * 200).format(customer.parts)|length }}",
], ids=["format", "format_map", "field-of-an-argument"])
def test_str_format_with_many_long_fields_is_refused_before_it_allocates(source):
    failure = assert_refused_within_memory(source, {"customer": {"parts": (HUGE,)}})
    assert "too large" in str(failure)


@given(lines=st.integers(1_000, 20_000), width=st.integers(1_000, 9_999), as_text=st.booleans())
@BOUNDED
def test_indent_is_sized_from_lines_times_width(lines, width, as_text):
    indention = f"'{'y' * (width // 10)}'" if as_text else str(width)
    assume(lines * (width // 10 if as_text else width) > template_costs.MAX_VALUE)
    failure = assert_refused_within_memory(f"{{{{ ('x\\n' * {lines})|indent({indention})|length }}}}")
    assert "too large" in str(failure)


@pytest.mark.parametrize("expression", [
    f"'x'.center(99999, '{WIDE}')",
    f"('{WIDE}' * 9)|center(99999)",
    f"'x'.ljust(99999, '{WIDE}')",
    f"'x'.rjust(99999, '{WIDE}')",
], ids=["center", "center-filter", "ljust", "rjust"])
def test_padded_values_kept_alive_add_up_to_the_render_budget(expression):
    failure = assert_refused_within_memory(kept_alive(expression))
    assert "in total" in str(failure)


@pytest.mark.parametrize("source", [
    "{{ ('x ' * 400000)|wordwrap(1, wrapstring='y' * 500)|length }}",
    "{{ ('x' * 100000)|wordwrap(1, wrapstring='y' * 1000)|length }}",
    "{{ ('a-' * 200000)|wordwrap(1)|length }}",
], ids=["words", "long-word", "hyphens"])
def test_wordwrap_is_sized_from_its_breaks_and_wrapstring_before_it_allocates(source):
    assert "too large" in str(assert_refused_within_memory(source))


def test_truncated_values_kept_alive_add_up_to_the_render_budget():
    context = {"customer": {"text": "x" * 200_000}}
    failure = assert_refused_within_memory(kept_alive(f"customer.text|truncate(99990, end='{WIDE}' * 9)"), context)
    assert "in total" in str(failure)


@pytest.mark.parametrize("source", [
    kept_alive(f"('x' * 999)|replace('x', '{WIDE}' * 999)", levels=40),
    kept_alive(f"('x' * 999).replace('x', '{WIDE}' * 999)", levels=40),
    "{{ ('x' * 2000)|replace('x', customer.long)|length }}",  # a list: its repr is put in
    "{{ ('x' * 2000)|replace('x', customer.long, 9999)|length }}",
    kept_alive("(('x' * 400)|safe).replace('x', '\"' * 999)", levels=40),  # Markup escapes what it puts in
], ids=["filter-kept", "method-kept", "list-replacement", "count", "markup-kept"])
def test_replace_is_sized_from_occurrences_and_the_replacement_before_it_allocates(source):
    assert_refused_within_memory(source, {"customer": {"long": ["y" * 100_000]}})


@pytest.mark.parametrize("source", [
    "{% set s = 'x' * 999999 %}{{ (" + " ~ ".join(["s"] * 100) + ")|length }}",
    "{% set s = 'x' * 999999 %}{{ (s ~ customer.tags ~ s)|length }}",
    kept_alive(f"'{WIDE}' * 499999 ~ '{WIDE}' * 499999", levels=40),
    kept_alive(f"('{WIDE}' * 499999) + ('{WIDE}' * 499999)", levels=40),
], ids=["tilde-chain", "tilde-with-a-list", "tilde-kept", "plus-kept"])
def test_concatenation_chains_are_sized_from_their_operands(source):
    assert_refused_within_memory(source, {"customer": {"tags": ["y" * 100_000] * 500}})


@pytest.mark.parametrize("source", [
    "".join(f"{{% set v{i} = '{WIDE}' * 499999 ~ {i} %}}" for i in range(40))
    + "".join(f"{{{{ v{i}|length }}}}" for i in range(40)),
    "{% set all %}{% for i in range(40) %}{{ '" + WIDE + "' * 999999 }}{% endfor %}{% endset %}{{ all|length }}",
    "{% macro m() %}{% for i in range(40) %}{{ '" + WIDE + "' * 999999 }}{% endfor %}{% endmacro %}{{ m()|length }}",
    "{% filter upper %}{% for i in range(40) %}{{ '" + WIDE + "' * 999999 }}{% endfor %}{% endfilter %}",
    "{% for i in range(100) %}{% set v = '" + WIDE + "' * 499999 ~ i %}{{ v|length }}{% endfor %}",
    "{% macro m(n) %}{% if n %}{{ m(n - 1, *varargs) }}{% endif %}{% endmacro %}"
    "{{ m(100, *((range(1000)|list) * 10)) }}",
], ids=["top-level-sets", "set-block-in-a-loop", "macro-output", "filter-block", "set-in-a-loop",
        "arguments-passed-down-a-recursion"])
def test_values_kept_by_set_blocks_and_macros_add_up_to_the_render_budget(source):
    failure = assert_refused_within_memory(source)
    assert "too large" in str(failure)


@pytest.mark.parametrize("source", [
    "{{ ('" + WIDE * 2 + " ' * 666666).split()|length }}",
    "{{ ('" + WIDE + "' * 999999)|list|length }}",
    "{% set l = ['x'] * 49999 %}{% set l2 = l + l %}{% set l3 = l2 + l2 %}{{ l3|length }}",
    "{{ ([['x'] * 9999] * 400)|sum(start=[])|length }}",
    "{{ range(10)|batch(99999, fill_with=customer.short)|list }}",
    "{{ customer.tags|slice(99999, fill_with=customer.short)|list }}",
    "{{ {}.fromkeys(range(1000), customer.long) }}",
    "{% set l = [customer.long] * 2000 %}{{ l }}",
    "{{ [customer.long, customer.long, customer.long, customer.long] * 500 }}",
], ids=["split", "list-of-a-string", "plus", "sum", "batch-fill", "slice-fill", "fromkeys", "repeated-ref",
        "literal-repeated"])
def test_list_building_is_refused_before_it_allocates(source):
    context = {"customer": {"tags": ["a", "b"], "short": ["y" * 2_000], "long": ["y" * 100_000]}}
    assert_refused_within_memory(source, context)


@pytest.mark.parametrize("source", [
    "{{ [['x'] * 1000]|tojson(indent=99999)|length }}",
    "{{ ('www.a.io ' * 2000)|urlize(target='t' * 50000)|length }}",
    "{{ ('\\t' * 2000).expandtabs(99999)|length }}",
    "{% set d = {('k' * 3000): [['a', 'b'] * 30] * 600} %}{{ d|pprint|length }}",
    "{% set d = {('k' * 90000): [['a'] * 2] * 600} %}{{ d|pprint|length }}",
    kept_alive("customer.text|e", levels=150),
    kept_alive(f"('{WIDE}' * 80000)|urlencode", levels=150),
    "{{ ('a ' * 999999)|title|length }}",
    "{{ ('" + WIDE * 2 + " ' * 666666)|striptags|length }}",
    "{% macro m() %}{% for i in range(60) %}{{ customer.text }}{% endfor %}{% endmacro %}{{ m()|length }}",
], ids=["tojson-indent", "urlize-target", "expandtabs", "pprint", "pprint-indented-by-a-long-key", "escape-kept",
        "urlencode-kept", "title", "striptags", "escaped-prints-in-a-macro"])
def test_other_growing_filters_and_methods_are_refused_before_they_allocate(source):
    assert_refused_within_memory(source, {"customer": {"text": "<" * 200_000}})


@pytest.mark.parametrize("source", [
    "{{ ([['x'] * 9999] * 1500)|sum(start=[])|length }}",
    "{% set s1 = 'x' * 30000 %}{% set s2 = 'x' * 29999 ~ 'x' %}"
    "{% set a = [[s1] * 5000] * 5000 %}{% set b = [[s2] * 5000] * 5000 %}{{ a == b }}",
    "{% set r = range(1000) %}{% for i in r %}{% for j in r %}{% for k in r %}{% endfor %}{% endfor %}{% endfor %}",
], ids=["sum-of-lists", "deep-comparison", "nested-loops"])
def test_a_hostile_template_fails_within_the_time_budget(source):
    started = time.monotonic()
    with pytest.raises(RenderFailed):
        render(source, {})
    assert time.monotonic() - started < MAX_SECONDS + 0.5


@pytest.mark.parametrize("source", [
    "{{ range }}", "{{ 'x'.upper }}", "{{ customer.__class__ }}", "{{ customer.items }}", "{{ [range] }}",
    "{{ {'f': 'x'.upper} }}", "{{ range ~ '' }}", "{{ '%s' % range }}", "{{ '{}'.format(range) }}",
    "{{ range|string }}", "{{ range|pprint }}", "{{ [1, 2]|reverse }}", "{{ [1]|batch(1) }}",
    "{{ customer.tags|select }}", "{{ customer.tags|unique }}", "{{ customer|items }}",
    "{% for t in customer.tags %}{{ loop.cycle }}{{ loop }}{% endfor %}",
    "{% macro m() %}{% endmacro %}{{ m }}{{ [m] }}",
])
@pytest.mark.parametrize("html", [True, False])
def test_functions_and_internals_print_no_repr_or_address(source, html):
    out = render(source, {"customer": {"tags": ["a"]}}, html=html)
    for leak in ("0x", "function _", "built-in", "generator", "iterator", "bound method", "<class"):
        assert leak not in out, out


def test_a_failure_reason_stays_short_enough_to_store_on_the_recipient_row():
    with pytest.raises(RenderFailed) as failure:
        render("{{ [].index(customer.text) }}", {"customer": {"text": "x" * 100_000}})
    assert str(failure.value).startswith("ValueError: 'xxx")
    assert len(str(failure.value)) <= 1_000  # not the 100,000 characters quoted


def test_methods_that_have_no_estimate_are_not_available():
    for method in ("encode()", "translate({})", "maketrans('a', 'b')"):
        with pytest.raises(RenderFailed, match="is not available in templates"):
            render("{{ 'x'." + method + " }}", {})
    with pytest.raises(RenderFailed, match="'to_bytes' is not available"):
        render("{{ (1).to_bytes(99999, 'big') }}", {})


def test_every_method_a_template_can_reach_is_sized_free_or_not_available():
    # intersection_update: a mutating set method the immutable sandbox does not know of
    refused = {"encode", "translate", "maketrans", "to_bytes", "from_bytes", "intersection_update"}
    wrapped = {"format", "format_map"}  # sized where the sandbox wraps them
    values = ["s", Markup("m"), [1], (1,), {"k": 1}, {1}.union(), 1, 1.5, range(1), {}.keys()]
    reachable = {name for value in values for name in dir(value) if callable(getattr(value, name))
                 and templating.HTML_ENV.is_safe_attribute(value, name, getattr(value, name))}
    assert reachable - template_call_costs.FREE_METHODS - template_call_costs.SIZED_METHODS - wrapped == refused
    with pytest.raises(RenderFailed, match="'intersection_update' is not available"):
        render("{{ ({}.keys() - []).intersection_update([1]) }}", {})


def test_every_builtin_filter_is_sized_free_or_not_available():
    available = set(jinja2.filters.FILTERS) - templating.BLOCKED_FILTERS - {"d", "default"}
    assert available == set(template_call_costs.FILTERS) | template_call_costs.FREE_FILTERS
    assert not templating.BLOCKED_FILTERS & set(templating.HTML_ENV.filters)


NEWSLETTER = """<h1>Hi {{ customer.first_name | default('there') | title }},</h1>
<p>{{ tenant.name }} · {{ customer.tags | join(', ') }} · {{ '%.2f' % customer.total_spent }} €
 ({{ '{:,.2f}'.format(customer.total_spent) }}) in {{ customer.orders_count }} orders</p>
{% set featured = customer.attributes.products | selectattr('featured') | list %}
{% for row in customer.attributes.products | sort(attribute='price') | batch(3) %}<tr>
  {% for p in row %}<td class="{{ loop.cycle('odd', 'even') }}">
    <b>{{ p.name | upper | truncate(40) }}</b> {{ p.description | striptags | wordwrap(60) | e }}
    {{ "%s%%"|format(p.discount) if p.discount }} {{ p.price | round(2) }} {{ (p.price * 1.2) | round(2) }}
  </td>{% endfor %}</tr>{% endfor %}
{% macro button(url, label) %}<a href="{{ url }}">{{ label | capitalize }}</a>{% endmacro %}
{{ button(view_in_browser_url, 'view in browser') }}
{% for k, v in customer.attributes.prefs | dictsort %}{{ k }}={{ v }}{{ ', ' if not loop.last }}{% endfor %}
{{ customer.email.split('@')[0] | replace('.', ' ') | title }} {{ customer.attributes.products | length }}
{{ customer.attributes.prefs | tojson }} {{ customer.attributes.prefs | pprint }} {{ customer.tags ~ '' }}
<a href="{{ unsubscribe_url }}">Unsubscribe</a>"""


def newsletter_context(products: int = 60) -> dict:
    items = [{"name": f"Concert {i}", "description": f"<p>A <b>great</b> night number {i} " + "la " * 40 + "</p>",
              "price": 10.0 + i, "discount": i % 3 and 10, "featured": i % 4 == 0} for i in range(products)]
    return {"customer": {"first_name": "ann", "email": "ann.lee@example.com", "tags": ["vip", "fan"],
                         "total_spent": 1234.5, "orders_count": 3,
                         "attributes": {"products": items, "prefs": {"b": 2, "a": 1}}},
            "tenant": {"name": "Arena"}, "unsubscribe_url": "https://x/u?a=1&b=2", "view_in_browser_url": "https://x/v"}


def test_an_ordinary_newsletter_renders_within_an_eighth_of_the_budget(monkeypatch):
    check_template(NEWSLETTER)
    monkeypatch.setattr(templating, "MAX_ALLOCATED", templating.MAX_ALLOCATED // 8)

    out = render(NEWSLETTER, newsletter_context())

    assert out.startswith("<h1>Hi Ann,</h1>\n<p>Arena · vip, fan · 1234.50 €\n (1,234.50) in 3 orders</p>")
    assert out.count("<td class=") == 60 and out.count('<td class="even">') == 20
    assert "<b>CONCERT 0</b> A great night number 0 la la la la la la la la la la la la\nla la" in out
    assert "10% 11.0 13.2" in out
    assert '<a href="https://x/v">View in browser</a>' in out
    assert "a=1, b=2\nAnn Lee 60" in out
    assert '{"a": 1, "b": 2} {&#39;a&#39;: 1, &#39;b&#39;: 2} [&#39;vip&#39;, &#39;fan&#39;]' in out
    assert out.endswith('<a href="https://x/u?a=1&amp;b=2">Unsubscribe</a>')


@pytest.mark.parametrize("source, expected", [
    ("{% for t in customer.tags %}{{ loop.index }}/{{ loop.length }}{% endfor %}", "1/22/2"),
    ("{% for x in customer.tree recursive %}<{{ x.name }}{{ loop(x.children) }}>{% endfor %}", "<a<b>>"),
    ("{% set x %}block {{ customer.tags[0] }}{% endset %}{{ x|upper }}", "BLOCK VIP"),
    ("{% macro card(t) %}[{{ t }}{{ caller() }}]{% endmacro %}{% call card('T') %}in{% endcall %}", "[Tin]"),
    ("{{ customer.tags|batch(1)|list }}|{{ customer.tags|reverse|join }}|{{ customer.tags|unique|list|length }}",
     "[['vip'], ['fan']]|fanvip|2"),
    ("{{ ('a-b' * 2).split('-') }}|{{ 'x'.center(5) }}|{{ [1, 2] + [3] }}|{{ (1, 2) * 2 }}|{{ 'é' * 3 }}",
     "['a', 'ba', 'b']|  x  |[1, 2, 3]|(1, 2, 1, 2)|ééé"),
    ("{{ '%-5s|' % 'ab' }}{{ '{:>5}'.format('ab') }}|{{ 'a b c'|wordwrap(3) }}|{{ 'x\ny'|indent(2, true) }}",
     "ab   |   ab|a b\nc|  x\n  y"),
])
def test_ordinary_template_features_render_as_before(source, expected):
    tree = [{"name": "a", "children": [{"name": "b", "children": []}]}]
    context = {"customer": {"tags": ["vip", "fan"], "tree": tree}}
    assert render(source, context, html=False) == expected


TEXT = st.text(alphabet="ab -.@w<>&'\"\n\t\x00éßİ" + WIDE, max_size=200)


@given(text=TEXT, other=TEXT, width=st.integers(0, 300), html=st.booleans())
@settings(max_examples=200, deadline=None)
def test_size_estimates_are_never_below_what_filters_and_methods_build(text, other, width, html):
    env = templating.HTML_ENV if html else templating.TEXT_ENV
    eval_ctx = EvalContext(env)
    filters = {
        "wordwrap": (env, text, max(width, 1), True, other or None), "indent": (text, width),
        "center": (text, width), "truncate": (env, text, max(width, 3)), "replace": (eval_ctx, text, other[:2], other),
        "urlize": (eval_ctx, text), "urlencode": (text,), "escape": (text,), "title": (text,), "upper": (text,),
        "capitalize": (text,), "striptags": (text,), "format": (text.replace("%", "%%") + "%s", other),
        "join": (eval_ctx, [text, Markup(other), 1], other), "tojson": (eval_ctx, [text, {other: 1}], width % 5),
        "string": ([text],), "trim": (text,), "safe": (text,),
    }  # not pprint: it indents by its keys' width, so its output is capped as it is written
    for name, args in filters.items():
        built = jinja2.filters.FILTERS[name](*args)
        assert template_call_costs.FILTERS[name](*args).chars >= len(built), name
    for owner in (text, Markup(text)):
        methods = {"center": (width, "é"), "zfill": (width,), "expandtabs": (width % 20,), "upper": (),
                   "replace": (other[:2], other), "join": ([other, other],), "swapcase": (), "strip": (),
                   "casefold": ()}
        for name, args in methods.items():
            built = getattr(owner, name)(*args)
            assert template_call_costs.method(name, owner, args, {}).chars >= len(built), (name, type(owner))
        for name, args in {"split": (), "splitlines": (), "rsplit": (other[:1] or None,), "partition": ("a",)}.items():
            assert template_call_costs.method(name, owner, args, {}).items >= len(getattr(owner, name)(*args)), name
    for conversions in ("%s%-9s", "%r%a", "%(x)a"):
        template, args = text.replace("%", "%%") + conversions, (other, text)
        args = {"x": other} if "(x)" in conversions else args
        assert template_costs.percent(template, args).chars >= len(template % args), conversions
    for fields in ("{0}{1:>9}", "{0!r}{1!a}"):
        assert template_costs.str_format(fields, (other, text), {}).chars >= len(fields.format(other, text))
