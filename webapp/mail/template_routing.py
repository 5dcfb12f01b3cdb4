"""The syntax tree of a sandboxed template, rewritten so that what a compiled template would
run as plain Python goes through templating's bounds: loops, `~` and literals."""

from __future__ import annotations

from jinja2 import nodes
from jinja2.visitor import NodeTransformer

from webapp.mail import template_costs as costs


class RouteThroughChecks(NodeTransformer):
    """Loops, `~` and literals are plain Python in a compiled template, out of the sandbox's
    reach: each loop's iterable goes through bounded_iter, each `~` is bounded_concat and
    each list, tuple or dict literal is charged by bounded_literal."""

    def visit_For(self, node):  # noqa: N802 (NodeTransformer's naming)
        node = self.generic_visit(node)
        node.iter = _call_here("bounded_iter", node.iter)
        return node

    def visit_Concat(self, node):  # noqa: N802
        node = self.generic_visit(node)
        return _call_here("bounded_concat", *node.nodes)

    def _literal(self, node):
        if getattr(node, "ctx", "load") != "load":
            return self.generic_visit(node)
        literals = [node, *node.find_all((nodes.List, nodes.Dict, nodes.Tuple))]
        if all(isinstance(n, (*_LITERALS, nodes.Const, nodes.Pair)) for n in node.find_all(nodes.Expr)):
            # Constants only: what bounded_literal would charge it and each literal inside it,
            # once per render, is the same every time.
            charge = sum((costs.built(n.as_const()) for n in literals), costs.FREE)
            return _call_here("bounded_literal", node, *(nodes.Const(part) for part in charge))
        return _call_here("bounded_literal", self.generic_visit(node))

    visit_List = visit_Dict = visit_Tuple = _literal  # noqa: N815


_LITERALS = (nodes.List, nodes.Dict, nodes.Tuple)


def _call_here(function: str, *args: nodes.Expr) -> nodes.Call:
    return nodes.Call(nodes.ImportedName(f"webapp.mail.templating.{function}"), list(args), [], None, None,
                      lineno=args[0].lineno if args else None)
