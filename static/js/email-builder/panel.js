/* Email builder: the side panel that edits the selected block.
 *
 * Its fields come from the block type's `fields` in the schema the server sends
 * (webapp.mail.design.builder_schema), one input per `kind`; only rich text, columns,
 * images, social links and the event choice have their own controls. The panel's inputs
 * have no `name`: the email travels in the one hidden `design` input, never field by field.
 */
(() => {
  "use strict";

  const parts = (window.EmailBuilderParts = window.EmailBuilderParts || {});
  const { el } = parts;
  const COLOR = /^#(?:[0-9a-fA-F]{6}|[0-9a-fA-F]{3})$/;
  let uid = 0;

  function fieldShell(spec, error, forId) {
    const wrap = el("div", `field eb-field eb-kind-${spec.kind}${error ? " has-error" : ""}`);
    wrap.dataset.field = spec.name;
    const label = el("label", null, spec.label);
    if (forId) label.htmlFor = forId;
    wrap.append(label);
    return wrap;
  }

  function finish(wrap, spec, error, input) {
    if (spec.hint) {
      const hint = el("small", "hint", spec.hint);
      hint.id = `eb-hint-${(uid += 1)}`;
      wrap.append(hint);
      if (input) input.setAttribute("aria-describedby", hint.id);
    }
    if (error) {
      const message = el("div", "field-error", error);
      message.dataset.testid = "builder-field-error";
      wrap.append(message);
      if (input) input.setAttribute("aria-invalid", "true");
    }
    return wrap;
  }

  function input(type, value) {
    const node = el("input");
    node.type = type;
    node.id = `eb-input-${(uid += 1)}`;
    node.value = value ?? "";
    node.autocomplete = "off";
    return node;
  }

  // --- one renderer per kind: (spec, value, ctx) -> element; ctx.set(value) writes -------

  const kinds = {
    text(spec, value, ctx) {
      const box = input("text", value);
      if (spec.required) box.required = true;
      const wrap = fieldShell(spec, ctx.error, box.id);
      const row = el("div", "eb-input-row");
      row.append(box, parts.mergeTagButton(box, row, ctx.mergeTags));
      box.addEventListener("input", () => ctx.set(box.value));
      wrap.append(row);
      return finish(wrap, spec, ctx.error, box);
    },
    url(spec, value, ctx) {
      const box = input("text", value);
      box.inputMode = "url";
      box.placeholder = "https://";
      box.spellcheck = false;
      const wrap = fieldShell(spec, ctx.error, box.id);
      box.addEventListener("input", () => ctx.set(box.value.trim()));
      wrap.append(box);
      return finish(wrap, spec, ctx.error, box);
    },
    number(spec, value, ctx) {
      const box = input("number", value);
      if (spec.min !== undefined) box.min = spec.min;
      if (spec.max !== undefined) box.max = spec.max;
      box.step = 1;
      box.inputMode = "numeric";
      const wrap = fieldShell(spec, ctx.error, box.id);
      box.addEventListener("input", () => {
        const number = Number.parseInt(box.value, 10);
        ctx.set(Number.isNaN(number) ? null : number); // the server says if it is out of range
      });
      wrap.append(box);
      if (spec.min !== undefined && spec.max !== undefined && !spec.hint) {
        spec = { ...spec, hint: `${spec.min} to ${spec.max}` };
      }
      return finish(wrap, spec, ctx.error, box);
    },
    select(spec, value, ctx) {
      const select = el("select");
      select.id = `eb-input-${(uid += 1)}`;
      for (const [optionValue, label] of spec.options || []) {
        const option = el("option", null, label);
        option.value = String(optionValue);
        option.selected = String(optionValue) === String(value);
        select.append(option);
      }
      const wrap = fieldShell(spec, ctx.error, select.id);
      // Options keep their type (a heading's level is a number): look the value up.
      select.addEventListener("change", () => {
        const chosen = (spec.options || []).find(([optionValue]) => String(optionValue) === select.value);
        ctx.set(chosen ? chosen[0] : select.value);
      });
      wrap.append(select);
      return finish(wrap, spec, ctx.error, select);
    },
    color(spec, value, ctx) {
      const text = input("text", value);
      text.placeholder = "default";
      text.spellcheck = false;
      text.maxLength = 7;
      const swatch = input("color", COLOR.test(value || "") ? expand(value) : "#ffffff");
      swatch.setAttribute("aria-label", `${spec.label}: pick a colour`);
      const wrap = fieldShell(spec, ctx.error, text.id);
      const row = el("div", "eb-color-row");
      swatch.addEventListener("input", () => {
        text.value = swatch.value;
        ctx.set(swatch.value);
      });
      text.addEventListener("input", () => {
        const typed = text.value.trim();
        if (COLOR.test(typed)) swatch.value = expand(typed);
        ctx.set(typed || null); // empty: the brand's colour
      });
      row.append(swatch, text);
      wrap.append(row);
      return finish(wrap, spec, ctx.error, text);
    },
    checkbox(spec, value, ctx) {
      const box = input("checkbox");
      box.checked = Boolean(value);
      const wrap = el("div", `field eb-field eb-kind-checkbox${ctx.error ? " has-error" : ""}`);
      wrap.dataset.field = spec.name;
      const label = el("label", "eb-check");
      label.append(box, document.createTextNode(` ${spec.label}`));
      box.addEventListener("change", () => ctx.set(box.checked));
      wrap.append(label);
      return finish(wrap, spec, ctx.error, box);
    },
    richtext(spec, value, ctx) {
      const wrap = fieldShell(spec, ctx.error, null);
      wrap.querySelector("label").id = `eb-label-${(uid += 1)}`;
      const host = el("div", "eb-richtext");
      wrap.append(host);
      ctx.later(() => parts.richText(host, value, ctx, wrap.querySelector("label").id));
      return finish(wrap, spec, ctx.error, null);
    },
    asset(spec, value, ctx) {
      if (!ctx.assetsUrl && !ctx.uploadUrl) return null; // no library yet: the address field serves
      const wrap = fieldShell(spec, ctx.error, null);
      wrap.append(parts.assetField({
        assetsUrl: ctx.assetsUrl, uploadUrl: ctx.uploadUrl, csrfToken: ctx.csrfToken, assets: ctx.assets, value,
        onPick: (asset) => ctx.set(asset ? asset.id : null, asset ? { src: null } : {}),
      }));
      return finish(wrap, spec, ctx.error, null);
    },
    links(spec, value, ctx) {
      const wrap = fieldShell(spec, ctx.error, null);
      const list = el("div", "eb-links");
      const links = (value || []).map((link) => ({ ...link }));
      const networks = spec.networks || ["facebook", "instagram", "x", "tiktok", "youtube", "spotify", "website"];
      const labels = { x: "X", tiktok: "TikTok", youtube: "YouTube" };
      const draw = () => {
        list.replaceChildren();
        links.forEach((link, i) => {
          const row = el("div", "eb-link-row");
          const network = el("select");
          network.setAttribute("aria-label", `Link ${i + 1}: network`);
          for (const name of networks) {
            const option = el("option", null, labels[name] || name[0].toUpperCase() + name.slice(1));
            option.value = name;
            option.selected = name === link.network;
            network.append(option);
          }
          const url = input("text", link.url);
          url.inputMode = "url";
          url.placeholder = "https://";
          url.setAttribute("aria-label", `Link ${i + 1}: address`);
          const remove = el("button", "small", "Remove");
          remove.type = "button";
          remove.setAttribute("aria-label", `Remove link ${i + 1}`);
          network.addEventListener("change", () => { link.network = network.value; ctx.set(links.map((l) => ({ ...l }))); });
          url.addEventListener("input", () => { link.url = url.value.trim(); ctx.set(links.map((l) => ({ ...l }))); });
          remove.addEventListener("click", () => { links.splice(i, 1); ctx.set(links.map((l) => ({ ...l }))); draw(); });
          row.append(network, url, remove);
          list.append(row);
        });
        if (!links.length) list.append(el("p", "muted eb-empty-note", "No links yet."));
      };
      const add = el("button", "small", "Add a link");
      add.type = "button";
      add.addEventListener("click", () => {
        const used = new Set(links.map((l) => l.network));
        links.push({ network: networks.find((n) => !used.has(n)) || networks[0], url: "" });
        ctx.set(links.map((l) => ({ ...l })));
        draw();
        list.querySelector(".eb-link-row:last-child input")?.focus();
      });
      draw();
      wrap.append(list, add);
      return finish(wrap, spec, ctx.error, null);
    },
    event(spec, value, ctx) {
      const wrap = el("fieldset", `field eb-field eb-kind-event${ctx.error ? " has-error" : ""}`);
      wrap.dataset.field = spec.name;
      wrap.append(el("legend", null, spec.label));
      const group = `eb-event-${(uid += 1)}`;
      const specific = value && typeof value === "object";
      const choice = (text, checked) => {
        const radio = input("radio");
        radio.name = group;
        radio.checked = checked;
        radio.setAttribute("form", "eb-detached"); // panel inputs are never posted
        const label = el("label", "eb-check");
        label.append(radio, document.createTextNode(` ${text}`));
        return [label, radio];
      };
      const [nextLabel, next] = choice("The customer's next event", !specific);
      const [oneLabel, one] = choice("A specific event", specific);
      const id = input("text", specific ? value.id : "");
      id.placeholder = "the event's id on your ticketing platform, e.g. evt_1007";
      id.setAttribute("aria-label", "Event id");
      id.disabled = !specific;
      const write = () => ctx.set(one.checked ? { id: id.value.trim() } : "next");
      next.addEventListener("change", () => { id.disabled = true; write(); });
      one.addEventListener("change", () => { id.disabled = false; id.focus(); write(); });
      id.addEventListener("input", write);
      wrap.append(nextLabel, oneLabel, id);
      return finish(wrap, spec, ctx.error, id);
    },
    columns(spec, value, ctx) {
      const select = el("select");
      select.id = `eb-input-${(uid += 1)}`;
      for (const count of [2, 3]) {
        const option = el("option", null, `${count} columns`);
        option.value = String(count);
        option.selected = (value || []).length === count;
        select.append(option);
      }
      const wrap = fieldShell({ ...spec, label: "Number of columns" }, ctx.error, select.id);
      select.addEventListener("change", () => {
        const columns = (value || []).map((column) => column.slice());
        const count = Number(select.value);
        while (columns.length < count) columns.push([]);
        // Fewer columns: the blocks of the dropped ones move into the last one kept.
        while (columns.length > count) columns[count - 1].push(...columns.pop());
        value = columns;
        ctx.set(columns, {}, { structural: true });
      });
      wrap.append(select);
      return finish(wrap, { ...spec, hint: "Columns sit side by side on computers and stack on phones." }, ctx.error, select);
    },
  };

  function expand(color) {
    return color.length === 4 ? `#${color[1]}${color[1]}${color[2]}${color[2]}${color[3]}${color[3]}` : color.toLowerCase();
  }

  const ENTITIES = { "&quot;": '"', "&#39;": "'", "&#x27;": "'", "&amp;": "&", "&lt;": "<", "&gt;": ">", "&nbsp;": " " };

  /* Quill's HTML as the email wants it: plain spaces between words (it writes non-breaking
     ones), and merge tags as written: `default("there")`, not `default(&quot;there&quot;)`,
     which the server reads as template code. */
  function emailHtml(html) {
    return html.replace(/&nbsp;/g, " ").replace(/\{\{[\s\S]*?\}\}|\{%[\s\S]*?%\}/g,
      (tag) => tag.replace(/&(?:quot|#39|#x27|amp|lt|gt|nbsp);/g, (entity) => ENTITIES[entity]));
  }

  /* Merge tags in the rich text are chips, as on the canvas: one Quill embed each, whose
     HTML is the tag as written (so the saved HTML holds `{{ customer.first_name }}`). */
  let tagBlotRegistered = false;
  function registerTagBlot(Quill) {
    if (tagBlotRegistered) return;
    const Embed = Quill.import("blots/embed");
    class MergeTagBlot extends Embed {
      static create(value) {
        const node = super.create(value);
        node.dataset.tag = value.source;
        node.dataset.label = value.label;
        node.textContent = value.label;
        return node;
      }

      static value(node) {
        return { source: node.dataset.tag, label: node.dataset.label };
      }

      html() {
        return this.domNode.dataset.tag;
      }
    }
    MergeTagBlot.blotName = "mergetag";
    MergeTagBlot.tagName = "span";
    MergeTagBlot.className = "eb-chip";
    Quill.register(MergeTagBlot);
    tagBlotRegistered = true;
  }

  /* A delta with every {{ tag }} of its text made a chip (conditions, {% ... %}, stay text). */
  function withTagChips(Quill, delta, labels) {
    const Delta = Quill.import("delta");
    const out = new Delta();
    for (const op of delta.ops) {
      if (typeof op.insert !== "string") {
        out.insert(op.insert, op.attributes);
        continue;
      }
      op.insert.split(/(\{\{[\s\S]*?\}\})/).forEach((piece, i) => {
        if (!piece) return;
        if (i % 2) out.insert({ mergetag: { source: piece, label: parts.tagLabel(piece, labels) } }, op.attributes);
        else out.insert(piece, op.attributes);
      });
    }
    return out;
  }

  /* The Quill editor for a rich-text field: its HTML goes into the block as it changes. */
  parts.richText = function richText(host, value, ctx, labelId) {
    if (!window.Quill) {
      const area = el("textarea");
      area.value = value || "";
      area.rows = 6;
      area.setAttribute("aria-labelledby", labelId);
      area.addEventListener("input", () => ctx.set(area.value));
      host.append(area);
      return;
    }
    registerTagBlot(window.Quill);
    const labels = new Map((ctx.mergeTags || []).map((tag) => [tag.tag, tag.label]));
    const editorHost = el("div", "eb-quill");
    host.append(editorHost);
    const quill = new window.Quill(editorHost, {
      theme: "snow",
      modules: {
        toolbar: {
          container: [["bold", "italic", "underline"], ["link"], [{ list: "ordered" }, { list: "bullet" }],
            [{ align: [] }], ["mergetag"]],
          handlers: { mergetag: () => openTags() },
        },
      },
    });
    const toolbar = host.querySelector(".ql-toolbar");
    const tagButton = toolbar.querySelector("button.ql-mergetag");
    tagButton.textContent = "Merge tag";
    tagButton.setAttribute("aria-haspopup", "dialog");
    tagButton.setAttribute("aria-expanded", "false");
    for (const [selector, label] of [["ql-bold", "Bold"], ["ql-italic", "Italic"], ["ql-underline", "Underline"],
      ["ql-link", "Link"], ["ql-list[value=ordered]", "Numbered list"], ["ql-list[value=bullet]", "Bulleted list"],
      ["ql-mergetag", "Insert a merge tag"]]) {
      toolbar.querySelector(`button.${selector}`)?.setAttribute("aria-label", label);
    }
    toolbar.querySelector(".ql-align .ql-picker-label")?.setAttribute("aria-label", "Alignment");
    quill.root.setAttribute("aria-labelledby", labelId);
    quill.root.setAttribute("aria-multiline", "true");
    quill.root.setAttribute("role", "textbox");
    quill.setContents(withTagChips(window.Quill, quill.clipboard.convert({ html: value || "" }), labels), "silent");
    let lastRange = { index: quill.getLength() - 1, length: 0 };
    quill.on("selection-change", (range) => { if (range) lastRange = range; });
    quill.on("text-change", () => {
      const empty = quill.getText().trim() === "" && !quill.root.querySelector("li");
      ctx.set(empty ? "" : emailHtml(quill.getSemanticHTML()));
    });
    function openTags() {
      parts.openMergeTags(tagButton, toolbar, ctx.mergeTags, (tag) => {
        const source = parts.tagText(tag);
        quill.focus();
        quill.insertEmbed(lastRange.index, "mergetag", { source, label: tag.label }, "user");
        quill.setSelection(lastRange.index + 1, 0, "user");
      });
    }
  };

  const ERROR_PATH = /^design\.blocks\[(\d+)\](?:\.columns\[(\d+)\]\[(\d+)\])?(?:\.([A-Za-z_]+))?/;

  /* The server's errors ({path: message}, paths like design.blocks[3].url or
     design.blocks[0].columns[1][2].text) by block id and field; the rest are the design's. */
  parts.errorsByBlock = function errorsByBlock(design, raw) {
    const errors = {};
    const designErrors = [];
    const entries = Array.isArray(raw) ? raw.map((e) => [e.field, e.message]) : Object.entries(raw || {});
    for (const [path, message] of entries) {
      const match = ERROR_PATH.exec(path || "");
      let block = match ? design.blocks[Number(match[1])] : null;
      if (block && match[2] !== undefined) block = ((block.columns || [])[Number(match[2])] || [])[Number(match[3])];
      if (block && block.id) errors[block.id] = { ...(errors[block.id] || {}), [match[4] || ""]: message };
      else designErrors.push(message);
    }
    return { errors, designErrors };
  };

  /* The fields of a block into `container`. ctx: {mergeTags, errors ({field: message}),
     assets, assetsUrl, uploadUrl, csrfToken, set(name, value, also, opts)}. */
  parts.renderFields = function renderFields(container, fields, values, ctx) {
    const after = [];
    for (const spec of fields) {
      const render = kinds[spec.kind] || kinds.text;
      const node = render(spec, values[spec.name], {
        ...ctx,
        error: (ctx.errors || {})[spec.name],
        later: (fn) => after.push(fn),
        set: (value, also, opts) => ctx.set(spec.name, value, also, opts),
      });
      if (node) container.append(node);
    }
    for (const fn of after) fn();
  };
})();
