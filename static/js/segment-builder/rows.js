/* Segment builder: condition rows and nested groups, mounted on an element.
 *
 *   const builder = SegmentBuilder.mount(element, {schema, conditions, matchInput, onChange, counts})
 *
 * `conditions` is the definition's list (edited in place), `matchInput` the page's own
 * "all"/"any" select for the top level, `onChange()` is called after every edit, `counts:
 * true` gives each top-level item a place for what it keeps on its own. The
 * builder answers `definition()`, `unfinished()` (a new row is not finished yet),
 * `finishedItems()` (the top-level items that can be counted), `setCounts(Map item -> n)`,
 * and places server errors, whose field path such as `conditions[0].conditions[1].value`
 * names a row, beside that row (`showError`, `clearErrors`). Nothing here knows about
 * segments or workflows: the segment page and a workflow's condition step both mount it.
 * Needs segment-builder/{dom,model,inputs}.js.
 */
(() => {
  "use strict";

  const parts = window.SegmentBuilderParts;
  const { el, selectBox, words, isGroup, formatCount } = parts;

  function removeButton(label, onClick) {
    const button = el("button", { type: "button", className: "cond-remove", "aria-label": label, title: label, text: "×" });
    button.addEventListener("click", onClick);
    return button;
  }

  function errorBox() {
    return el("div", { className: "cond-error", role: "alert", hidden: true });
  }

  function mount(root, options) {
    const lang = parts.language(options.schema);
    const schema = options.schema;
    const rootMatch = options.matchInput;
    const onChange = options.onChange || (() => {});
    const withCounts = Boolean(options.counts);  // the page shows what each top-level item keeps
    const conditions = Array.isArray(options.conditions) ? options.conditions : [];
    // How many customers each top-level item keeps on its own, from the last count.
    let counts = new Map();

    // --- rows and groups ----------------------------------------------------------------------

    /** An unknown count keeps its place, invisible: the rows do not jump when counts arrive. */
    function showCount(label, count) {
      const known = typeof count === "number";
      label.classList.toggle("is-unknown", !known);
      label.textContent = known ? `keeps ${formatCount(count)}` : "keeps —";
    }

    function keepsLabel(item) {
      const count = counts.get(item);
      const label = el("span", { className: "cond-keeps", "data-testid": "condition-keeps",
                                 title: "Customers this condition keeps on its own" });
      showCount(label, count);
      return label;
    }

    function renderCondition(node, path, siblings, topLevel) {
      if (node.operator === undefined && lang.TYPES.has(node.type) && !schema.languageDefault[node.type]) {
        node.operator = lang.defaultOperator(node.type);  // required for this type: show what we send
      }
      const row = el("div", { className: "cond-row", "data-path": path, "data-testid": "condition" });
      if (parts.pristine.has(node)) row.classList.add("is-pristine");
      const types = schema.types.map((t) => ({ value: t.type, label: t.label }));
      const typeSelect = selectBox(types, node.type, { "aria-label": "Condition type", "data-field": "type", className: "cond-type" });
      const controls = el("div", { className: "cond-controls" });

      const fill = () => {
        controls.replaceChildren(typeSelect);
        const known = lang.TYPES.get(node.type);
        if (!known) return;
        controls.append(...parts.leadingInputs(node, lang));
        const operators = known.operators.map((o) => ({ value: o.value, label: o.label }));
        const opSelect = selectBox(operators, lang.operatorOf(node), { "aria-label": "Operator", "data-field": "operator", className: "cond-operator" });
        opSelect.addEventListener("change", () => {
          lang.changeOperator(node, opSelect.value);
          fill();
          controls.querySelector("[data-field=operator]").focus();
        });
        controls.append(opSelect, ...parts.valueInputs(node, lang).filter(Boolean));
      };
      typeSelect.addEventListener("change", () => {
        lang.changeType(node, typeSelect.value);
        fill();
        typeSelect.focus();
      });
      fill();

      // Any edit inside the row: the row is no longer new, and the definition changed.
      row.addEventListener("input", () => touched(row, node));
      row.addEventListener("change", () => touched(row, node));
      const keeps = topLevel && withCounts ? keepsLabel(node) : null;
      row.append(...[controls, keeps, removeButton("Remove condition", () => remove(siblings, node)), errorBox()]
        .filter(Boolean));
      return row;
    }

    function touched(row, node) {
      parts.pristine.delete(node);
      row.classList.remove("is-pristine");
      counts.delete(node);  // what it keeps is counted again once the edit is sent
      const label = row.querySelector(":scope > .cond-keeps");
      if (label) showCount(label, null);
      changed();
    }

    function itemPath(path, isRoot, i) {
      return `${path}${isRoot ? "" : ".conditions"}[${i}]`;
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
          counts.delete(group);
          render({ path, field: "match" });
          changed();
        });
        box.append(el("div", { className: "group-head" }, [
          matchSelect, words("of these conditions"), depth === 2 && withCounts ? keepsLabel(group) : null,
          removeButton("Remove group", () => remove(siblings, group)),
        ]));
      }
      const list = el("div", { className: "cond-list" });
      items.forEach((item, i) => {
        if (i > 0) list.append(el("div", { className: "cond-joiner", text: match === "all" ? "and" : "or" }));
        const at = itemPath(path, isRoot, i);
        list.append(isGroup(item) ? renderGroup(item, at, depth + 1, items) : renderCondition(item, at, items, isRoot));
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
        items.push(lang.newCondition());
        render({ path: itemPath(path, isRoot, items.length - 1), field: "type" });
        changed();
      });
      actions.append(addCondition);
      if (depth < schema.maxDepth) {
        const addGroup = el("button", { type: "button", className: "small", text: "+ Add group", "data-action": "add-group" });
        addGroup.addEventListener("click", () => {
          items.push({ match: "any", conditions: [lang.newCondition()] });
          render({ path: itemPath(path, isRoot, items.length - 1), field: "match" });
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
      root.replaceChildren(renderGroup(null, "conditions", 1, null));
      if (focus) {
        const target = root.querySelector(`[data-path="${CSS.escape(focus.path)}"] [data-field="${focus.field}"]`);
        if (target) target.focus();
      }
    }

    function changed() {
      onChange(api);
    }

    // --- errors beside their row -----------------------------------------------------------------

    function clearErrors() {
      for (const box of root.querySelectorAll(".cond-error")) {
        box.hidden = true;
        box.textContent = "";
      }
      for (const node of root.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
      rootMatch.removeAttribute("aria-invalid");
      for (const node of root.querySelectorAll(".cond-invalid, .cond-incomplete")) {
        node.classList.remove("cond-invalid", "cond-incomplete");
      }
    }

    /** The deepest row or group whose path starts `field` (at a `.` or `[` boundary). */
    function boxFor(field) {
      let best = null;
      for (const box of root.querySelectorAll("[data-path]")) {
        const path = box.dataset.path;
        const boundary = field.length === path.length || ".[".includes(field[path.length]);
        if (field.startsWith(path) && boundary && (!best || path.length > best.dataset.path.length)) best = box;
      }
      return best;
    }

    function showError(field, message) {
      clearErrors();
      const box = boxFor(field) || root.querySelector(".cond-root");
      if (!box) return;
      const suffix = field.startsWith(box.dataset.path) ? field.slice(box.dataset.path.length).replace(/^\./, "") : field;
      const label = schema.fieldLabels[suffix];
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

    // --- counts ----------------------------------------------------------------------------------

    /** Show what each top-level item keeps (a Map item -> count); items not in it show nothing. */
    function setCounts(next) {
      counts = next instanceof Map ? next : new Map();
      root.querySelectorAll(".cond-root > .cond-list > [data-path]").forEach((box, i) => {
        const label = box.querySelector(":scope > .cond-keeps, :scope > .group-head > .cond-keeps");
        if (!label) return;
        showCount(label, counts.get(conditions[i]));
      });
    }

    rootMatch.addEventListener("change", () => {
      render();
      changed();
    });

    const api = {
      definition: () => conditions,
      unfinished: () => conditions.map(lang.unfinished).some(Boolean),
      finishedItems: () => conditions.filter((item) => !lang.unfinished(item)),
      setCounts,
      showError,
      clearErrors,
      render,
    };
    render();
    return api;
  }

  window.SegmentBuilder = { mount };
})();
