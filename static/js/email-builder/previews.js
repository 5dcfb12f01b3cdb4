/* Email builder: what a block card shows on the canvas.
 *
 * A small, readable likeness of each block (the heading's words, the first words of a
 * text, the button's label, the image's thumbnail), never its JSON or template code:
 * merge tags show as chips named for people ("First name"). Everything is built with
 * DOM nodes and textContent, so nothing a marketer typed is ever parsed as the app's HTML.
 */
(() => {
  "use strict";

  const parts = (window.EmailBuilderParts = window.EmailBuilderParts || {});
  const TEMPLATE_PART = /(\{\{[\s\S]*?\}\}|\{%[\s\S]*?%\})/;
  const SUMMARY_CHARS = 160;
  const NETWORK_LABELS = {
    facebook: "Facebook", instagram: "Instagram", x: "X", tiktok: "TikTok",
    youtube: "YouTube", spotify: "Spotify", website: "Website",
  };

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  /* "customer.first_name" -> "first name": for a tag the picker does not list. */
  function humanise(name) {
    const last = name.split(".").pop() || name;
    return last.replace(/_/g, " ").trim() || "merge tag";
  }

  /* The label a merge tag is shown by: {{ customer.first_name | default("x") }} -> "First name". */
  function tagLabel(source, labels) {
    if (source.startsWith("{%")) return "condition";
    const name = source.slice(2, -2).split("|")[0].trim();
    return labels.get(name) || humanise(name);
  }

  /* Text with merge tags, as nodes: text, and chips for the tags; at most `limit` characters
     of text (cut at a word, with an ellipsis). */
  function withChips(text, labels, limit) {
    const out = document.createDocumentFragment();
    let left = limit || Infinity;
    const pieces = (text || "").split(TEMPLATE_PART);
    for (let i = 0; i < pieces.length && left > 0; i += 1) {
      const piece = pieces[i];
      if (i % 2 === 1) {
        const chip = el("span", "eb-chip", tagLabel(piece, labels));
        out.append(chip);
        left -= chip.textContent.length;
        continue;
      }
      let words = piece.replace(/\s+/g, " ");
      if (words.length > left) {
        words = words.slice(0, left).replace(/\s+\S*$/, "") + "…";
        left = 0;
      } else {
        left -= words.length;
      }
      if (words) out.append(document.createTextNode(words));
    }
    return out;
  }

  /* The words of rich text (HTML from the editor), read in an inert document: no script
     runs and no image loads. */
  function textOf(html) {
    const doc = new DOMParser().parseFromString(`<body>${html || ""}</body>`, "text/html");
    for (const block of doc.body.querySelectorAll("p, li, br")) block.append(" ");
    return doc.body.textContent.replace(/\s+/g, " ").trim();
  }

  function placeholder(text) {
    return el("span", "eb-placeholder", text);
  }

  const summaries = {
    heading(block, ctx) {
      const level = Number(block.level) || 1;
      const node = el("div", `eb-sum-heading eb-sum-h${level}`);
      node.append(block.text ? withChips(block.text, ctx.labels, SUMMARY_CHARS) : placeholder("Empty heading"));
      return node;
    },
    text(block, ctx) {
      const node = el("div", "eb-sum-text");
      const words = textOf(block.html);
      node.append(words ? withChips(words, ctx.labels, SUMMARY_CHARS) : placeholder("Empty text: select it to write"));
      return node;
    },
    button(block, ctx) {
      const node = el("div", "eb-sum-button");
      const pill = el("span", "eb-sum-pill");
      pill.append(withChips(block.text || "Button", ctx.labels, 60));
      if (block.color) pill.style.background = block.color;
      if (block.text_color) pill.style.color = block.text_color;
      node.append(pill);
      if (!block.url) node.append(placeholder("No link yet"));
      return node;
    },
    image(block, ctx) {
      const node = el("div", "eb-sum-image");
      const asset = block.asset_id ? ctx.assets[block.asset_id] : null;
      const src = asset ? asset.url : block.src;
      if (src && /^https?:\/\//i.test(src)) {
        const img = el("img");
        img.src = src;
        img.alt = block.alt || "";
        img.loading = "lazy";
        node.append(img);
        if (!block.alt) node.append(placeholder("No alt text yet"));
      } else {
        node.append(placeholder(block.asset_id ? "Image chosen" : "No image chosen yet"));
      }
      return node;
    },
    divider(block) {
      const node = el("div", "eb-sum-divider");
      node.style.borderTopColor = block.color || "#e3e6ee";
      node.style.borderTopWidth = `${Math.min(Number(block.thickness) || 1, 10)}px`;
      return node;
    },
    spacer(block) {
      return el("div", "eb-sum-spacer", `Space · ${Number(block.height) || 0} px`);
    },
    social(block) {
      const links = (block.links || []).map((link) => NETWORK_LABELS[link.network] || link.network);
      return links.length ? el("div", "eb-sum-social", links.join(" · "))
        : placeholder("No links yet: select it to add your profiles");
    },
    event(block) {
      const node = el("div", "eb-sum-event");
      node.append(el("strong", null, block.event && block.event.id ? "Event card" : "Next event card"));
      const which = block.event && block.event.id ? `Event ${block.event.id}` : "The customer's next event";
      node.append(el("span", "eb-sum-event-which", which));
      if (block.button_text) node.append(el("span", "eb-sum-pill", block.button_text));
      return node;
    },
    footer(block, ctx) {
      const node = el("div", "eb-sum-footer");
      if (block.text) {
        const line = el("div");
        line.append(withChips(block.text, ctx.labels, 80));
        node.append(line);
      }
      const bits = ["Unsubscribe link"];
      if (block.show_address) bits.push("postal address");
      if (block.show_view_in_browser) bits.push("view in browser");
      node.append(el("div", "eb-sum-footer-links", bits.join(" · ")));
      return node;
    },
  };

  /* The card body for `block`; ctx = {labels: Map(tag -> label), assets: {id: {url}}}. */
  parts.summary = function summary(block, ctx) {
    const make = summaries[block.type];
    return make ? make(block, ctx) : placeholder("");
  };

  /* A short plain-text name for a block, for announcements and aria labels. */
  parts.describe = function describe(block, label, labels) {
    const scratch = document.createElement("div");
    if (block.type === "heading" || block.type === "button") scratch.append(withChips(block.text || "", labels, 40));
    else if (block.type === "text") scratch.append(withChips(textOf(block.html), labels, 40));
    const words = scratch.textContent.trim();
    return words ? `${label}: ${words}` : label;
  };

  // Outline icons for the card tools (24 px grid), drawn rather than taken from a font.
  const ICONS = {
    up: "M12 19V5M5 12l7-7 7 7",
    down: "M12 5v14M5 12l7 7 7-7",
    duplicate: "M8 8h11v11H8zM5 16V5h11",
    delete: "M4 7h16M9 7V4h6v3M6 7l1 13h10l1-13",
  };
  parts.icon = function icon(name) {
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
    path.setAttribute("d", ICONS[name]);
    svg.append(path);
    return svg;
  };

  parts.decorative = function decorative(node) {
    node.setAttribute("aria-hidden", "true");
    return node;
  };

/* A block's card on the canvas: its head (type, drag handle, tools), its likeness, and the
   errors of the last save. ctx = {typeOf, errors: {id: {field: message}}, selectedId, labels, assets}. */
  parts.card = function card(block, position, total, ctx) {
    const { selectedId, labels, assets } = ctx;
    const type = ctx.typeOf(block);
    const blockErrors = ctx.errors[block.id];
    const li = el("li", `eb-card eb-card-${block.type}${block.id === selectedId ? " is-selected" : ""}${blockErrors ? " is-invalid" : ""}`);
    li.dataset.id = block.id;
    li.dataset.type = block.type;
    li.tabIndex = 0;
    li.setAttribute("aria-label", `${position} of ${total}: ${parts.describe(block, type.label, labels)}`);
    if (block.id === selectedId) li.setAttribute("aria-current", "true");
    const head = el("div", "eb-card-head");
    head.append(parts.decorative(el("span", "eb-handle", "⠿")), parts.decorative(el("span", "eb-icon", type.icon)),
      el("span", "eb-card-type", type.label));
    const tools = el("span", "eb-tools");
    for (const [action, label] of [["up", "Move up"], ["down", "Move down"], ["duplicate", "Duplicate"],
      ["delete", "Delete"]]) {
      const button = el("button", `eb-tool eb-tool-${action}`);
      button.append(parts.icon(action));
      button.type = "button";
      button.dataset.action = action;
      button.title = label;
      button.setAttribute("aria-label", label);
      tools.append(button);
    }
    head.append(tools);
    li.append(head);
    const body = el("div", "eb-card-body");
    if (block.type === "columns") {
      const columns = el("div", `eb-columns eb-columns-${(block.columns || []).length}`);
      (block.columns || []).forEach((column, c) => {
        const list = el("ol", "eb-list eb-column");
        list.dataset.column = String(c);
        list.setAttribute("aria-label", `Column ${c + 1}`);
        column.forEach((inner, i) => list.append(card(inner, i + 1, column.length, ctx)));
        columns.append(list);
      });
      body.append(columns);
    } else {
      body.append(parts.summary(block, { labels, assets }));
    }
    li.append(body);
    if (blockErrors) {
      for (const [field, message] of Object.entries(blockErrors)) {
        const spec = type.fields.find((f) => f.name === field);
        const note = el("div", "field-error eb-card-error", spec ? `${spec.label}: ${message}` : message);
        note.dataset.testid = "builder-block-error";
        li.append(note);
      }
    }
    return li;
  };

  parts.el = el;
  parts.tagLabel = tagLabel;
  parts.TEMPLATE_PART = TEMPLATE_PART;
  parts.withChips = withChips;
})();
