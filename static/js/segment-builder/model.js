/* Segment builder: the condition language as the server describes it (the schema from
 * webapp/web/condition_builder.py), and what the rows need to know about a condition: its
 * operator in force, the inputs it takes, and whether a new row is still unfinished.
 */
(() => {
  "use strict";

  const parts = (window.SegmentBuilderParts = window.SegmentBuilderParts || {});
  const { isGroup } = parts;

  // Shared by every builder on a page; keyed by the condition objects themselves.
  // Conditions just added and not touched yet: an error there is a hint, not a red mark.
  parts.pristine = new WeakSet();
  // Conditions added on this page that have never been complete: they are left out of
  // counts (a half-typed row is not an error), until the marketer finishes them.
  parts.fresh = new WeakSet();
  // The kind of value an attribute equality compares with (text, number, yes/no).
  parts.attributeKind = new WeakMap();

  const filled = (value) => typeof value === "string" && value.trim() !== "";
  const isNumber = (value) => typeof value === "number" && Number.isFinite(value);

  /** Whether the value inputs of `input` (a widget from the schema) hold what they need. */
  function valueComplete(node, input) {
    switch (input.kind) {
      case "none":
      case "status":
        return true;
      case "number":
        return isNumber(node.value);
      case "date":
        return filled(node.value);
      case "range":
        return Array.isArray(node.value) && filled(node.value[0]) && filled(node.value[1]);
      case "text":
      case "event-id":
      case "event-name":
        return filled(node.value);
      case "statuses":
        return Array.isArray(node.value) && node.value.length > 0;
      case "topic":
        return Number.isInteger(node.value);
      case "scalar":
        return isNumber(node.value) || typeof node.value === "boolean" || filled(node.value);
      case "activity":
        return node.value !== null && node.within_last_days !== null;  // both optional; null = not a number
      case "window":
        return node.within_last_days !== null;
      case "fields":
        return input.fields.every((spec) => fieldComplete(node, spec));
      default:
        return node.value !== undefined && node.value !== null && node.value !== "";
    }
  }

  /** Which events a ticket or attendance item counts, from the key it holds ("": any). */
  parts.scopeOf = (node) => ["event", "event_tag", "venue"].find((key) => key in node) || "";

  /** One of a "fields" widget's inputs holds what it needs (optional ones may be empty). */
  function fieldComplete(node, spec) {
    if (spec.input === "number") {
      const value = spec.index === undefined ? node[spec.field] : (node[spec.field] || [])[spec.index];
      return spec.optional && spec.index === undefined ? value !== null : isNumber(value);
    }
    if (spec.input !== "scope") return true;
    const scope = parts.scopeOf(node);
    if (scope === "event") return Number.isInteger(node.event);
    if (scope === "event_tag") return filled(node.event_tag && node.event_tag.value);
    if (scope === "venue") return filled(node.venue);
    return true;
  }

  parts.language = function language(schema) {
    const TYPES = new Map(schema.types.map((t) => [t.type, t]));
    const NO_VALUE = new Set(schema.noValueOperators);

    function defaultOperator(type) {
      return schema.defaultOperator[type] || TYPES.get(type).operators[0].value;
    }

    /** The operator in force: an omitted one means the language's default ("tag": has). */
    function operatorOf(node) {
      return node.operator ?? schema.languageDefault[node.type] ?? defaultOperator(node.type);
    }

    /** The value inputs a type and operator take, from the schema. */
    function widget(type, op) {
      if (NO_VALUE.has(op)) return { kind: "none" };
      const known = TYPES.get(type);
      if (!known) return { kind: type };
      return known.widgets[op] || known.defaultWidget;
    }

    const shape = (type, op) => widget(type, op).kind;

    function changeOperator(node, op) {
      const before = shape(node.type, operatorOf(node));
      const after = shape(node.type, op);
      node.operator = op;
      if (before === after) return;
      if (before === "status" && after === "statuses") node.value = node.value ? [node.value] : [];
      else if (before === "statuses" && after === "status") node.value = (node.value || [])[0] || schema.emailStatuses[0];
      else if (after === "status") node.value = schema.emailStatuses[0];
      else if (after === "statuses") node.value = [];
      else if (after === "topic") node.value = (schema.topics || [])[0]?.value;
      else if (!(before === "text" && after === "scalar") && !(before === "scalar" && after === "text")) delete node.value;
    }

    function changeType(node, type) {
      for (const key of Object.keys(node)) delete node[key];
      node.type = type;
      node.operator = defaultOperator(type);
      if (shape(type, node.operator) === "status") node.value = schema.emailStatuses[0];
      if (shape(type, node.operator) === "topic" && (schema.topics || []).length) node.value = schema.topics[0].value;
    }

    function newCondition(type = "total_spent") {
      const condition = { type, operator: defaultOperator(type) };
      parts.pristine.add(condition);
      parts.fresh.add(condition);
      return condition;
    }

    /** A condition holds every value its type and operator need (the server has the last word). */
    function complete(node) {
      const known = TYPES.get(node.type);
      if (!known) return true;
      if (known.leading.some((input) => !filled(node[input.field]))) return false;
      return valueComplete(node, widget(node.type, operatorOf(node)));
    }

    /** A new row not finished yet, anywhere inside `item`; finished rows stop being new. */
    function unfinished(item) {
      if (isGroup(item)) return item.conditions.map(unfinished).some(Boolean);
      if (!parts.fresh.has(item)) return false;
      if (complete(item)) {
        parts.fresh.delete(item);
        return false;
      }
      return true;
    }

    return { schema, TYPES, defaultOperator, operatorOf, widget, shape, changeOperator, changeType, newCondition,
             unfinished };
  };
})();
