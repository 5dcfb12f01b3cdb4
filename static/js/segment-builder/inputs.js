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

  /** One of the organisation's topics, by name (the value is its id). */
  function topicSelect(node, schema) {
    const topics = schema.topics || [];
    if (!topics.length) return words("no topics yet: add them on the Topics page");
    const options = topics.map((t) => ({ value: String(t.value), label: t.label }));
    const select = selectBox(options, node.value, { "aria-label": "Topic", "data-field": "value" });
    select.addEventListener("change", () => { node.value = Number(select.value); });
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

  // --- "fields": the ticket and attendance conditions' settings, one input per key ----------

  /** One end of a [from, to] pair of numbers held in node[field]. */
  function pairNumber(node, spec) {
    if (!Array.isArray(node[spec.field]) || node[spec.field].length !== 2) node[spec.field] = [null, null];
    const pair = node[spec.field];
    const input = el("input", {
      type: "number", step: spec.step || "1", min: spec.min, inputmode: "numeric", "aria-label": spec.label,
      "data-field": `${spec.field}[${spec.index}]`, placeholder: spec.placeholder, className: "cond-number",
    });
    if (typeof pair[spec.index] === "number") input.value = String(pair[spec.index]);
    input.addEventListener("input", () => {
      const number = input.value === "" ? NaN : Number(input.value);
      pair[spec.index] = Number.isFinite(number) ? number : null;
    });
    return input;
  }

  const SCOPE_LABELS = { "": "for any event", event: "for the event", event_tag: "for events tagged", venue: "at the venue" };
  const TAG_KINDS = ["genre", "artist", "series", "tag"].map((k) => ({ value: k, label: k }));

  /** Any event, one of the organisation's events, events of a tag, or a venue: a menu, then
   * the input of the choice (the others stay in the row, hidden, so nothing jumps). */
  function scopeInputs(node, spec, schema) {
    const events = schema.events || [];
    const choices = [{ value: "", label: SCOPE_LABELS[""] },
                     ...spec.choices.map((c) => ({ value: c, label: SCOPE_LABELS[c] }))];
    const menu = selectBox(choices, parts.scopeOf(node), { "aria-label": "Which events", "data-field": "scope", className: "cond-scope" });

    const eventBox = events.length
      ? selectBox(events.map((e) => ({ value: String(e.value), label: e.label })), node.event,
                  { "aria-label": "Event", "data-field": "event", className: "cond-event" })
      : words("no events yet: the platform adds them with its first sales");
    if (events.length) {
      eventBox.addEventListener("change", () => {
        const chosen = events.find((e) => String(e.value) === eventBox.value);
        node.event = Number(eventBox.value);
        node.event_name = chosen ? chosen.name : undefined;
      });
    }
    const tag = node.event_tag && typeof node.event_tag === "object" ? node.event_tag : { kind: "genre", value: "" };
    const kindBox = selectBox(TAG_KINDS, tag.kind, { "aria-label": "Tag kind", "data-field": "event_tag.kind", className: "cond-kind" });
    const tagBox = el("input", { type: "text", "aria-label": "Event tag", "data-field": "event_tag.value", list: "known-event-tags",
                                 placeholder: "e.g. jazz", className: "cond-text", autocomplete: "off" });
    tagBox.value = tag.value || "";
    kindBox.addEventListener("change", () => { if (node.event_tag) node.event_tag.kind = kindBox.value; });
    tagBox.addEventListener("input", () => { if (node.event_tag) node.event_tag.value = tagBox.value; });
    const venueBox = el("input", { type: "text", "aria-label": "Venue", "data-field": "venue", list: "known-venues",
                                   placeholder: "venue name", className: "cond-text", autocomplete: "off" });
    venueBox.value = typeof node.venue === "string" ? node.venue : "";
    venueBox.addEventListener("input", () => { node.venue = venueBox.value; });

    const shown = { event: [eventBox], event_tag: [kindBox, tagBox], venue: [venueBox] };
    const show = () => {
      const mode = parts.scopeOf(node);
      for (const [key, inputs] of Object.entries(shown)) for (const input of inputs) input.hidden = key !== mode;
    };
    menu.addEventListener("change", () => {
      for (const key of ["event", "event_name", "event_tag", "venue"]) delete node[key];
      if (menu.value === "event") {
        node.event = events.length ? Number(eventBox.value) : null;
        const chosen = events.find((e) => String(e.value) === eventBox.value);
        if (chosen) node.event_name = chosen.name;
      } else if (menu.value === "event_tag") {
        node.event_tag = { kind: kindBox.value, value: tagBox.value };
      } else if (menu.value === "venue") {
        node.venue = venueBox.value;
      }
      show();
    });
    show();
    return [menu, eventBox, kindBox, tagBox, venueBox];
  }

  function fieldInputs(node, spec, schema) {
    switch (spec.input) {
      case "words":
        return [words(spec.text)];
      case "text":
        return [textInput(node, spec.field, spec)];
      case "number":
        return [spec.index === undefined ? numberInput(node, spec.field, spec) : pairNumber(node, spec)];
      case "date":
        return [dateInput(() => node[spec.field], (v) => { setOptional(node, spec.field, v); },
                          { label: spec.label, field: spec.field, optional: true })];
      case "scope":
        return scopeInputs(node, spec, schema);
      default:
        return [];
    }
  }

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
      case "topic":
        return [topicSelect(node, lang.schema)];
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
      case "fields":
        return input.fields.flatMap((spec) => fieldInputs(node, spec, lang.schema));
      default:
        return [textInput(node, "value", { label: "Value" })];
    }
  };

  /** Inputs that come before the operator: the attribute's name, the activity's type. */
  parts.leadingInputs = function leadingInputs(node, lang) {
    return lang.TYPES.get(node.type).leading.map((input) => textInput(node, input.field, input));
  };
})();
