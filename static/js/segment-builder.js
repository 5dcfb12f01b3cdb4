/* Segment builder.
 *
 * Renders condition rows and nested groups from the JSON definition in the form's hidden
 * `conditions` input, writes the edited definition back into it, and fires `segment-change`
 * on the form so htmx refreshes the live preview (debounced there). Errors from the server
 * name a field path such as `conditions[0].conditions[1].value`; they are shown beside the
 * row that path points at.
 *
 * The DOM is built with createElement and textContent only: tags, event names and other
 * values typed by anyone are never parsed as HTML.
 */
(() => {
  "use strict";

  const form = document.getElementById("segment-form");
  const mount = document.getElementById("segment-builder");
  if (!form || !mount) return;

  const schema = JSON.parse(document.getElementById("segment-schema").textContent);
  const hidden = document.getElementById("segment-conditions");
  const rootMatch = form.elements.namedItem("match");
  const preview = document.getElementById("segment-preview");
  // Each type says which inputs its operators take (webapp/segments/conditions): this script
  // only knows how to draw each kind of input.
  const TYPES = new Map(schema.types.map((t) => [t.type, t]));
  const NO_VALUE = new Set(schema.noValueOperators);
  const FIELD_LABELS = schema.fieldLabels;

  let conditions = readDefinition(hidden.value);
  // Conditions just added and not touched yet: an error there is a hint, not a red mark.
  const pristine = new WeakSet();
  // The kind of value an attribute equality compares with (text, number, yes/no).
  const attributeKind = new WeakMap();

  function readDefinition(text) {
    try {
      const parsed = JSON.parse(text || "[]");
      return Array.isArray(parsed) ? parsed : [];
    } catch {
      return [];
    }
  }

  // --- small DOM helpers ----------------------------------------------------------------

  function el(tag, attrs = {}, children = []) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (name === "text") node.textContent = value;
      else if (name === "className") node.className = value;
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children) if (child !== null && child !== undefined) node.append(child);
    return node;
  }

  function selectBox(options, value, attrs) {
    const select = el("select", attrs);
    const known = options.some((o) => o.value === value);
    if (!known && value !== undefined && value !== null) {
      options = [{ value: String(value), label: String(value) }, ...options];
    }
    for (const option of options) select.append(el("option", { value: option.value, text: option.label }));
    if (value !== undefined && value !== null) select.value = String(value);
    return select;
  }

  function words(text) {
    return el("span", { className: "cond-words", text });
  }

  const isGroup = (item) => item !== null && typeof item === "object" && Array.isArray(item.conditions);

  // --- the model --------------------------------------------------------------------------

  function defaultOperator(type) {
    return schema.defaultOperator[type] || TYPES.get(type).operators[0].value;
  }

  function newCondition(type = "total_spent") {
    const condition = { type, operator: defaultOperator(type) };
    pristine.add(condition);
    return condition;
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

  /** Which kind of value inputs a type and operator take; a change of shape resets the value. */
  function shape(type, op) {
    return widget(type, op).kind;
  }

  function changeOperator(node, op) {
    const before = shape(node.type, operatorOf(node));
    const after = shape(node.type, op);
    node.operator = op;
    if (before === after) return;
    if (before === "status" && after === "statuses") node.value = node.value ? [node.value] : [];
    else if (before === "statuses" && after === "status") node.value = (node.value || [])[0] || schema.emailStatuses[0];
    else if (after === "status") node.value = schema.emailStatuses[0];
    else if (after === "statuses") node.value = [];
    else if (!(before === "text" && after === "scalar") && !(before === "scalar" && after === "text")) delete node.value;
  }

  function changeType(node, type) {
    for (const key of Object.keys(node)) delete node[key];
    node.type = type;
    node.operator = defaultOperator(type);
    if (shape(type, node.operator) === "status") node.value = schema.emailStatuses[0];
  }

  // --- value inputs -------------------------------------------------------------------------

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

  function valueInputs(node) {
    const op = operatorOf(node);
    const input = widget(node.type, op);
    const parts = [];
    switch (input.kind) {
      case "none":
        break;
      case "number":
        parts.push(numberInput(node, "value", input));
        if (input.unit) parts.push(words(input.unit));
        break;
      case "date":
        parts.push(dateInput(() => node.value, (v) => { node.value = v; }, { label: input.label, field: "value" }));
        break;
      case "range": {
        if (!Array.isArray(node.value) || node.value.length !== 2) node.value = [null, null];
        const pair = node.value;
        parts.push(
          dateInput(() => pair[0], (v) => { pair[0] = v; }, { label: "From date", field: "value[0]" }),
          words("and"),
          dateInput(() => pair[1], (v) => { pair[1] = v; }, { label: "To date", field: "value[1]" }),
        );
        break;
      }
      case "text":
        parts.push(textInput(node, "value", input));
        break;
      case "status":
        parts.push(statusSelect(node));
        break;
      case "statuses":
        parts.push(statusChecks(node));
        break;
      case "scalar":
        parts.push(...scalarInputs(node));
        break;
      case "activity":
        parts.push(
          numberInput(node, "value", { label: "How many times", placeholder: "1", optional: true }),
          words("times, in the last"),
          numberInput(node, "within_last_days", { label: "Within the last days (optional)", min: "1",
                                                  optional: true, placeholder: "any" }),
          words("days"),
        );
        break;
      case "event-id":
      case "event-name":
        parts.push(
          textInput(node, "value", input),
          words("from"),
          dateInput(() => node.from, (v) => { setOptional(node, "from", v); }, { label: "Bought from (optional)", field: "from", optional: true }),
          words("to"),
          dateInput(() => node.to, (v) => { setOptional(node, "to", v); }, { label: "Bought until (optional)", field: "to", optional: true }),
        );
        break;
      case "window":
        parts.push(
          words("in the last"),
          numberInput(node, "within_last_days", { label: "Within the last days (optional)", min: "1",
                                                  optional: true, placeholder: "any" }),
          words("days"),
        );
        break;
      default:
        parts.push(textInput(node, "value", { label: "Value" }));
    }
    return parts;
  }

  function setOptional(node, key, value) {
    if (value === undefined || value === null || value === "") delete node[key];
    else node[key] = value;
  }

  function statusSelect(node) {
    const options = schema.emailStatuses.map((s) => ({ value: s, label: s }));
    const select = selectBox(options, node.value, { "aria-label": "Email status", "data-field": "value" });
    select.addEventListener("change", () => { node.value = select.value; });
    return select;
  }

  function statusChecks(node) {
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
    const kind = attributeKind.get(node)
      || (typeof node.value === "number" ? "number" : typeof node.value === "boolean" ? "boolean" : "text");
    attributeKind.set(node, kind);
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
      attributeKind.set(node, kindSelect.value);
      const current = node.value;
      if (kindSelect.value === "number") node.value = Number.isFinite(Number(current)) && current !== "" ? Number(current) : null;
      else if (kindSelect.value === "boolean") node.value = current === "false" ? false : true;
      else node.value = current === null || current === undefined ? "" : String(current);
    });
    return [kindSelect, input];
  }

  /** Inputs that come before the operator: the attribute's name, the activity's type. */
  function leadingInputs(node) {
    return TYPES.get(node.type).leading.map((input) => textInput(node, input.field, input));
  }

  // --- rows and groups ------------------------------------------------------------------------

  function removeButton(label, onClick) {
    const button = el("button", { type: "button", className: "cond-remove", "aria-label": label, title: label, text: "×" });
    button.addEventListener("click", onClick);
    return button;
  }

  function errorBox() {
    return el("div", { className: "cond-error", role: "alert", hidden: true });
  }

  function renderCondition(node, path, siblings) {
    if (node.operator === undefined && TYPES.has(node.type) && !schema.languageDefault[node.type]) {
      node.operator = defaultOperator(node.type);  // required for this type: show what we send
    }
    const row = el("div", { className: "cond-row", "data-path": path, "data-testid": "condition" });
    if (pristine.has(node)) row.classList.add("is-pristine");
    const types = schema.types.map((t) => ({ value: t.type, label: t.label }));
    const typeSelect = selectBox(types, node.type, { "aria-label": "Condition type", "data-field": "type", className: "cond-type" });
    const controls = el("div", { className: "cond-controls" });

    const fill = () => {
      controls.replaceChildren(typeSelect);
      const known = TYPES.get(node.type);
      if (!known) return;
      controls.append(...leadingInputs(node));
      const operators = known.operators.map((o) => ({ value: o.value, label: o.label }));
      const opSelect = selectBox(operators, operatorOf(node), { "aria-label": "Operator", "data-field": "operator", className: "cond-operator" });
      opSelect.addEventListener("change", () => {
        changeOperator(node, opSelect.value);
        fill();
        controls.querySelector("[data-field=operator]").focus();
      });
      controls.append(opSelect, ...valueInputs(node));
    };
    typeSelect.addEventListener("change", () => {
      changeType(node, typeSelect.value);
      fill();
      typeSelect.focus();
    });
    fill();

    // Any edit inside the row: the row is no longer new, and the definition changed.
    row.addEventListener("input", () => touched(row, node));
    row.addEventListener("change", () => touched(row, node));
    row.append(controls, removeButton("Remove condition", () => remove(siblings, node)), errorBox());
    return row;
  }

  function touched(row, node) {
    pristine.delete(node);
    row.classList.remove("is-pristine");
    changed();
  }

  function renderGroup(group, path, depth, siblings) {
    const isRoot = siblings === null;
    const items = isRoot ? conditions : group.conditions;
    const box = el("div", { className: isRoot ? "cond-root" : "cond-group", "data-path": path, "data-depth": depth,
                            "data-testid": isRoot ? "root-group" : "group" });
    const match = isRoot ? rootMatch.value : (group.match || "all");
    if (!isRoot) {
      const matchSelect = selectBox([{ value: "all", label: "All" }, { value: "any", label: "Any" }], match,
                                    { "aria-label": "Group match", "data-field": "match", className: "group-match" });
      matchSelect.addEventListener("change", () => {
        group.match = matchSelect.value;
        render({ path, field: "match" });
        changed();
      });
      box.append(el("div", { className: "group-head" }, [
        matchSelect, words("of these conditions"), removeButton("Remove group", () => remove(siblings, group)),
      ]));
    }
    const list = el("div", { className: "cond-list" });
    items.forEach((item, i) => {
      if (i > 0) list.append(el("div", { className: "cond-joiner", text: match === "all" ? "and" : "or" }));
      const itemPath = `${path}${isRoot ? "" : ".conditions"}[${i}]`;
      list.append(isGroup(item) ? renderGroup(item, itemPath, depth + 1, items) : renderCondition(item, itemPath, items));
    });
    if (!items.length) {
      list.append(el("p", { className: "cond-empty", text: isRoot
        ? "No conditions yet. Add one to start counting customers."
        : "This group is empty: add a condition or remove the group." }));
    }
    box.append(list);

    const actions = el("div", { className: "group-actions" });
    const addCondition = el("button", { type: "button", className: "small", text: "+ Add condition", "data-action": "add-condition" });
    addCondition.addEventListener("click", () => {
      items.push(newCondition());
      render({ path: `${path}${isRoot ? "" : ".conditions"}[${items.length - 1}]`, field: "type" });
      changed();
    });
    actions.append(addCondition);
    if (depth < schema.maxDepth) {
      const addGroup = el("button", { type: "button", className: "small", text: "+ Add group", "data-action": "add-group" });
      addGroup.addEventListener("click", () => {
        items.push({ match: "any", conditions: [newCondition()] });
        render({ path: `${path}${isRoot ? "" : ".conditions"}[${items.length - 1}]`, field: "match" });
        changed();
      });
      actions.append(addGroup);
    }
    box.append(actions, errorBox());
    return box;
  }

  function remove(siblings, item) {
    const index = siblings.indexOf(item);
    if (index >= 0) siblings.splice(index, 1);
    render();
    changed();
  }

  /** Rebuild every row (paths change when rows come and go), then restore focus. */
  function render(focus) {
    mount.replaceChildren(renderGroup(null, "conditions", 1, null));
    if (focus) {
      const target = mount.querySelector(`[data-path="${CSS.escape(focus.path)}"] [data-field="${focus.field}"]`);
      if (target) target.focus();
    }
  }

  function changed() {
    hidden.value = JSON.stringify(conditions);
    form.dispatchEvent(new CustomEvent("segment-change", { bubbles: true }));
  }

  // --- errors beside their row -----------------------------------------------------------------

  function clearErrors() {
    for (const box of mount.querySelectorAll(".cond-error")) {
      box.hidden = true;
      box.textContent = "";
    }
    for (const node of form.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
    for (const node of mount.querySelectorAll(".cond-invalid, .cond-incomplete")) {
      node.classList.remove("cond-invalid", "cond-incomplete");
    }
  }

  /** The deepest row or group whose path starts `field` (at a `.` or `[` boundary). */
  function boxFor(field) {
    let best = null;
    for (const box of mount.querySelectorAll("[data-path]")) {
      const path = box.dataset.path;
      const boundary = field.length === path.length || ".[".includes(field[path.length]);
      if (field.startsWith(path) && boundary && (!best || path.length > best.dataset.path.length)) best = box;
    }
    return best;
  }

  function showError(field, message) {
    clearErrors();
    const box = boxFor(field) || mount.querySelector(".cond-root");
    if (!box) return;
    const suffix = field.startsWith(box.dataset.path) ? field.slice(box.dataset.path.length).replace(/^\./, "") : field;
    const label = FIELD_LABELS[suffix];
    const text = label ? `${label}: ${message}` : message.charAt(0).toUpperCase() + message.slice(1);
    const hint = box.classList.contains("is-pristine");
    box.classList.add(hint ? "cond-incomplete" : "cond-invalid");
    const messageBox = box.querySelector(":scope > .cond-error");
    messageBox.textContent = text;
    messageBox.dataset.field = field;
    messageBox.hidden = false;
    if (field === "match") {
      rootMatch.setAttribute("aria-invalid", "true");
      return;
    }
    const input = box.querySelector(`:scope > .cond-controls [data-field="${CSS.escape(suffix)}"], :scope > .group-head [data-field="${CSS.escape(suffix)}"]`);
    if (input && !hint) input.setAttribute("aria-invalid", "true");
  }

  // The preview answers 422 with the error's field path: swap it in anyway, then place it.
  document.body.addEventListener("htmx:beforeSwap", (event) => {
    if (event.detail.target === preview && event.detail.xhr.status === 422) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
  document.body.addEventListener("htmx:afterSwap", (event) => {
    if (event.detail.target !== preview) return;
    const error = preview.querySelector("[data-error-field]");
    if (error) showError(error.dataset.errorField, error.dataset.errorMessage);
    else clearErrors();
    const saveError = document.getElementById("definition-error");
    if (saveError && !error) saveError.hidden = true;
  });

  rootMatch.addEventListener("change", () => {
    render();
    changed();
  });

  render();
  hidden.value = JSON.stringify(conditions);  // what the rows show is what gets saved
  const saveError = document.getElementById("definition-error");
  if (saveError) showError(saveError.dataset.errorField, saveError.dataset.errorMessage);
})();
