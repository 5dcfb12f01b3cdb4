/* Segment builder: the value inputs of a condition row. Each condition type says which
 * inputs its operators take (webapp/segments/conditions, served as the schema): this module
 * only knows how to draw each kind of input and write what is typed into the condition.
 */
(() => {
  "use strict";

  const parts = (window.SegmentBuilderParts = window.SegmentBuilderParts || {});
  const { el, selectBox, words } = parts;

  /** A number input bound to node[key]; empty means null (required) or absent (optional). */
  function numberInput(node, key, { label, step = "1", min = "0", optional = false, placeholder }) {
    const input = el("input", {
      type: "number", step, min, inputmode: step === "1" ? "numeric" : "decimal",
      "aria-label": label, "data-field": key, placeholder, className: "cond-number",
    });
    if (typeof node[key] === "number") input.value = String(node[key]);
    input.addEventListener("input", () => {
      const number = input.value === "" ? NaN : Number(input.value);
      if (Number.isFinite(number)) node[key] = number;
      else if (optional && input.value === "" && !input.validity.badInput) delete node[key];
      else node[key] = null;
    });
    return input;
  }

  function textInput(node, key, { label, list, placeholder, optional = false }) {
    const input = el("input", {
      type: "text", "aria-label": label, "data-field": key, list, placeholder, className: "cond-text",
      autocomplete: "off",
    });
    if (node[key] !== undefined && node[key] !== null) input.value = String(node[key]);
    input.addEventListener("input", () => {
      if (optional && input.value.trim() === "") delete node[key];
      else node[key] = input.value;
    });
    return input;
  }

  function dateValue(value) {
    return typeof value === "string" && /^\d{4}-\d{2}-\d{2}/.test(value) ? value.slice(0, 10) : "";
  }

  /** A date picker reading and writing through get/set (dates may sit inside a [from, to] pair). */
  function dateInput(get, set, { label, field, optional = false }) {
    const input = el("input", { type: "date", "aria-label": label, "data-field": field, className: "cond-date" });
    input.value = dateValue(get());
    input.addEventListener("input", () => set(input.value || (optional ? undefined : null)));
    return input;
  }

  function setOptional(node, key, value) {
    if (value === undefined || value === null || value === "") delete node[key];
    else node[key] = value;
  }

  function statusSelect(node, schema) {
    const options = schema.emailStatuses.map((s) => ({ value: s, label: s }));
    const select = selectBox(options, node.value, { "aria-label": "Email status", "data-field": "value" });
    select.addEventListener("change", () => { node.value = select.value; });
    return select;
  }

  function statusChecks(node, schema) {
    const box = el("span", { className: "cond-checks", "data-field": "value", role: "group", "aria-label": "Email statuses" });
    const chosen = new Set(Array.isArray(node.value) ? node.value : []);
    const checks = [];
    for (const status of schema.emailStatuses) {
      const check = el("input", { type: "checkbox", value: status });
      check.checked = chosen.has(status);
      check.addEventListener("change", () => {
        node.value = checks.filter((c) => c.checked).map((c) => c.value);
      });
      checks.push(check);
      box.append(el("label", { className: "cond-check" }, [check, status]));
    }
    return box;
  }

  /** Attribute equality compares typed JSON values, so the marketer says which kind. */
  function scalarInputs(node) {
    const kind = parts.attributeKind.get(node)
      || (typeof node.value === "number" ? "number" : typeof node.value === "boolean" ? "boolean" : "text");
    parts.attributeKind.set(node, kind);
    const kinds = [{ value: "text", label: "text" }, { value: "number", label: "number" }, { value: "boolean", label: "yes/no" }];
    const kindSelect = selectBox(kinds, kind, { "aria-label": "Kind of value", className: "cond-kind" });
    let input;
    if (kind === "number") {
      input = numberInput(node, "value", { label: "Number", step: "any", min: null, placeholder: "number" });
    } else if (kind === "boolean") {
      if (typeof node.value !== "boolean") node.value = true;
      input = selectBox([{ value: "true", label: "yes" }, { value: "false", label: "no" }], String(node.value),
                        { "aria-label": "Yes or no", "data-field": "value" });
      input.addEventListener("change", () => { node.value = input.value === "true"; });
    } else {
      input = textInput(node, "value", { label: "Value", placeholder: "value" });
    }
    kindSelect.addEventListener("change", () => {
      parts.attributeKind.set(node, kindSelect.value);
      const current = node.value;
      if (kindSelect.value === "number") node.value = Number.isFinite(Number(current)) && current !== "" ? Number(current) : null;
      else if (kindSelect.value === "boolean") node.value = current === "false" ? false : true;
      else node.value = current === null || current === undefined ? "" : String(current);
    });
    return [kindSelect, input];
  }

  const DAYS = { label: "Within the last days (optional)", min: "1", optional: true, placeholder: "any" };

  /** The inputs after the operator, for the condition's type and operator. */
  parts.valueInputs = function valueInputs(node, lang) {
    const input = lang.widget(node.type, lang.operatorOf(node));
    switch (input.kind) {
      case "none":
        return [];
      case "number":
        return [numberInput(node, "value", input), input.unit ? words(input.unit) : null];
      case "date":
        return [dateInput(() => node.value, (v) => { node.value = v; }, { label: input.label, field: "value" })];
      case "range": {
        if (!Array.isArray(node.value) || node.value.length !== 2) node.value = [null, null];
        const pair = node.value;
        return [
          dateInput(() => pair[0], (v) => { pair[0] = v; }, { label: "From date", field: "value[0]" }),
          words("and"),
          dateInput(() => pair[1], (v) => { pair[1] = v; }, { label: "To date", field: "value[1]" }),
        ];
      }
      case "text":
        return [textInput(node, "value", input)];
      case "status":
        return [statusSelect(node, lang.schema)];
      case "statuses":
        return [statusChecks(node, lang.schema)];
      case "scalar":
        return scalarInputs(node);
      case "activity":
        return [
          numberInput(node, "value", { label: "How many times", placeholder: "1", optional: true }),
          words("times, in the last"), numberInput(node, "within_last_days", DAYS), words("days"),
        ];
      case "event-id":
      case "event-name":
        return [
          textInput(node, "value", input),
          words("from"),
          dateInput(() => node.from, (v) => { setOptional(node, "from", v); }, { label: "Bought from (optional)", field: "from", optional: true }),
          words("to"),
          dateInput(() => node.to, (v) => { setOptional(node, "to", v); }, { label: "Bought until (optional)", field: "to", optional: true }),
        ];
      case "window":
        return [words("in the last"), numberInput(node, "within_last_days", DAYS), words("days")];
      default:
        return [textInput(node, "value", { label: "Value" })];
    }
  };

  /** Inputs that come before the operator: the attribute's name, the activity's type. */
  parts.leadingInputs = function leadingInputs(node, lang) {
    return lang.TYPES.get(node.type).leading.map((input) => textInput(node, input.field, input));
  };
})();
