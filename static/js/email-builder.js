/* The email builder: a palette of blocks, the email as a list of block cards, and a side
 * panel for the selected block. It edits a design (the block tree of
 * webapp/mail/design, see builder_schema) and writes it as JSON into a hidden input, then
 * fires `input` on it so the page's live preview (which posts the form) follows.
 *
 *   EmailBuilder.mount(rootEl, {schema, design, brand, mergeTags, savedBlocks, assets,
 *                               assetsUrl, uploadUrl, saveBlockUrl, csrfToken, errors,
 *                               input, onChange})
 *
 * Nothing in here knows about campaigns: workflow email steps mount the same builder.
 * Blocks are added by click or by dragging from the palette (SortableJS), reordered by drag
 * or from the keyboard (Move up / Move down, Alt+ArrowUp / Alt+ArrowDown on a focused card);
 * every move is announced in a live region. Needs email-builder/{previews,pickers,panel}.js.
 */
(() => {
  "use strict";

  const parts = window.EmailBuilderParts;
  const { el } = parts;
  const SETTINGS_FIELDS = [
    { name: "background_color", label: "Background", kind: "color" },
    { name: "content_background", label: "Content background", kind: "color" },
    { name: "text_color", label: "Text colour", kind: "color" },
    { name: "link_color", label: "Link colour", kind: "color" },
  ];
  let instances = 0;

  const clone = (value) => JSON.parse(JSON.stringify(value));
  const decorative = (node) => parts.decorative(node);
  const newId = () => `b${Math.random().toString(36).slice(2, 9)}`;

  function mount(root, options) {
    const opts = { mergeTags: [], savedBlocks: [], assets: {}, errors: {}, ...options };
    const types = new Map((opts.schema.blocks || []).map((type) => [type.type, type]));
    const labels = new Map(opts.mergeTags.map((tag) => [tag.tag, tag.label]));
    const assets = { ...opts.assets };
    const group = `email-builder-${(instances += 1)}`;
    const design = normalise(opts.design);
    const byId = new Map();
    let selectedId = null;
    let sortables = [];
    let errors = {}; // block id -> {field: message}, from the last save
    let designErrors = [];

    // --- the tree ------------------------------------------------------------------------

    function normalise(raw) {
      const out = raw && typeof raw === "object" ? clone(raw) : {};
      out.version = out.version || 1;
      out.blocks = Array.isArray(out.blocks) ? out.blocks : [];
      out.settings = out.settings && typeof out.settings === "object" ? out.settings : {};
      return out;
    }

    function index() {
      byId.clear();
      const visit = (list, parent, column) => list.forEach((block, i) => {
        if (!block || typeof block !== "object") return;
        if (typeof block.id !== "string" || !block.id || byId.has(block.id)) block.id = newId();
        byId.set(block.id, { block, list, index: i, parent, column });
        if (block.type === "columns" && Array.isArray(block.columns)) {
          block.columns.forEach((col, c) => Array.isArray(col) && visit(col, block, c));
        }
      });
      visit(design.blocks, null, null);
    }

    function typeOf(block) {
      return types.get(block.type) || { type: block.type, label: block.type, icon: "?", fields: [] };
    }

    function labelOf(block) {
      return typeOf(block).label;
    }

    function reid(block) {
      const copy = clone(block);
      copy.id = newId();
      if (copy.type === "columns") copy.columns = (copy.columns || []).map((col) => col.map(reid));
      return copy;
    }

    function create(type, columns) {
      const spec = types.get(type);
      const block = { ...clone(spec.defaults || {}), type, id: newId() };
      if (spec.container) block.columns = Array.from({ length: columns || 2 }, () => []);
      return block;
    }

    function commit() {
      index();
      opts.input.value = JSON.stringify(design);
      opts.input.dispatchEvent(new Event("input", { bubbles: true }));
      if (opts.onChange) opts.onChange(design);
    }

    // --- errors from the server, by block ---------------------------------------------------

    // --- the page ------------------------------------------------------------------------

    root.classList.add("eb");
    root.replaceChildren();
    const palette = el("div", "eb-palette");
    palette.setAttribute("role", "region");
    palette.setAttribute("aria-label", "Blocks you can add");
    const canvas = el("div", "eb-canvas");
    canvas.setAttribute("role", "region");
    canvas.setAttribute("aria-label", "Your email, block by block");
    const panel = el("div", "eb-panel");
    panel.setAttribute("role", "region");
    panel.setAttribute("aria-label", "Selected block");
    const live = el("div", "visually-hidden");
    live.setAttribute("aria-live", "polite");
    live.dataset.testid = "builder-announcer";
    const problems = el("div", "eb-problems");
    problems.setAttribute("role", "alert");
    root.append(problems, palette, canvas, panel, live);

    function announce(message) {
      live.textContent = "";
      window.setTimeout(() => { live.textContent = message; }, 30);
    }

    function paletteItem(label, icon, data, hint) {
      const li = el("li", "eb-palette-item");
      Object.assign(li.dataset, data);
      const button = el("button", "eb-add");
      button.type = "button";
      button.append(decorative(el("span", "eb-icon", icon)), el("span", "eb-add-label", label));
      button.title = hint;
      li.append(button);
      return li;
    }

    function renderPalette() {
      palette.replaceChildren();
      palette.append(el("h3", null, "Add a block"), el("p", "eb-hint", "Click to add below the selected block, or drag into the email."));
      const list = el("ul", "eb-palette-list");
      for (const type of types.values()) {
        if (type.container) {
          for (const count of [2, 3]) {
            list.append(paletteItem(`${count} columns`, type.icon, { newType: type.type, columns: String(count) },
              `Add ${count} columns side by side`));
          }
        } else {
          list.append(paletteItem(type.label, type.icon, { newType: type.type }, `Add a ${type.label.toLowerCase()} block`));
        }
      }
      palette.append(list);
      palette.append(el("h3", null, "Saved blocks"));
      const saved = el("ul", "eb-palette-list eb-saved-list");
      for (const item of opts.savedBlocks) {
        if (!item || !item.block || !types.has(item.block.type)) continue;
        saved.append(paletteItem(item.name, typeOf(item.block).icon, { savedId: String(item.id), newType: item.block.type },
          `Add your saved block “${item.name}”`));
      }
      if (!saved.children.length) {
        palette.append(el("p", "eb-hint eb-saved-empty",
          opts.saveBlockUrl ? "None yet. Select a block you reuse (a header, a footer) and choose “Save as block…”."
            : "None yet."));
      }
      palette.append(saved);
      sortables.push(window.Sortable.create(list, paletteSortable()), window.Sortable.create(saved, paletteSortable()));
    }

    function paletteSortable() {
      return { group: { name: group, pull: "clone", put: false }, sort: false, forceFallback: true, fallbackTolerance: 4,
        onEnd: (event) => { if (event.to !== event.from) afterDrop(); } };
    }

    function listSortable(nested) {
      return {
        group: {
          name: group, pull: true,
          // No columns inside columns.
          put: nested ? (to, from, dragged) => dragged.dataset.newType !== "columns" && dragged.dataset.type !== "columns" : true,
        },
        handle: ".eb-card-head", filter: ".eb-tool", preventOnFilter: false, animation: 120, forceFallback: true,
        fallbackTolerance: 4, fallbackOnBody: true, swapThreshold: 0.6, invertSwap: true, emptyInsertThreshold: 24,
        onEnd: () => afterDrop(),
      };
    }

    function renderCanvas(focusId) {
      for (const sortable of sortables.splice(0)) sortable.destroy();
      index();
      canvas.replaceChildren();
      const list = el("ol", "eb-list eb-top");
      list.setAttribute("aria-label", "Blocks of the email");
      const cardContext = { typeOf, errors, selectedId, labels, assets };
      design.blocks.forEach((block, i) => list.append(parts.card(block, i + 1, design.blocks.length, cardContext)));
      canvas.append(list);
      if (!design.blocks.length) {
        canvas.append(el("p", "eb-empty", "Your email is empty. Click a block in the palette, or drag one here."));
      }
      sortables.push(window.Sortable.create(list, listSortable(false)));
      for (const column of list.querySelectorAll(".eb-column")) sortables.push(window.Sortable.create(column, listSortable(true)));
      renderPalette();
      problems.replaceChildren(...designErrors.map((message) => el("div", "field-error", message)));
      if (focusId) canvas.querySelector(`.eb-card[data-id="${CSS.escape(focusId)}"]`)?.focus();
    }

    // --- editing -----------------------------------------------------------------------

    function select(id, { focusPanel = false } = {}) {
      selectedId = id && byId.has(id) ? id : null;
      for (const node of canvas.querySelectorAll(".eb-card")) {
        const on = node.dataset.id === selectedId;
        node.classList.toggle("is-selected", on);
        if (on) node.setAttribute("aria-current", "true");
        else node.removeAttribute("aria-current");
      }
      renderPanel();
      if (focusPanel) panel.querySelector("input:not([type=hidden]), select, textarea, .ql-editor")?.focus();
    }

    /* null or undefined: the key goes (the server's default, the brand's colour, no width). */
    function setValue(target, name, value, also) {
      if (value === null || value === undefined) delete target[name];
      else target[name] = value;
      for (const [key, extra] of Object.entries(also || {})) {
        if (extra === null) delete target[key];
        else target[key] = extra;
      }
    }

    function renderPanel() {
      parts.closePicker(false);
      panel.replaceChildren();
      const entry = selectedId ? byId.get(selectedId) : null;
      if (!entry) {
        panel.append(el("h3", null, "Email settings"),
          el("p", "eb-hint", "Select a block in the email to edit it. These colours apply to the whole email; empty means your brand’s."));
        const fields = el("div", "eb-fields");
        panel.append(fields);
        const fonts = (opts.schema.fonts || []).map(([stack, label]) => [stack, label]);
        const settingsFields = fonts.length ? [...SETTINGS_FIELDS,
          { name: "font_family", label: "Font", kind: "select", options: [["", "Your brand’s font"], ...fonts] }]
          : SETTINGS_FIELDS;
        parts.renderFields(fields, settingsFields, design.settings, {
          mergeTags: opts.mergeTags, errors: {},
          set: (name, value) => { setValue(design.settings, name, value || null); commit(); },
        });
        return;
      }
      const { block } = entry;
      const type = typeOf(block);
      const head = el("div", "eb-panel-head");
      head.append(el("h3", null, type.label));
      if (opts.saveBlockUrl) {
        const save = el("button", "small", "Save as block…");
        save.type = "button";
        save.addEventListener("click", () => parts.saveBlockForm(head, {
          block: reid(block), url: opts.saveBlockUrl, csrfToken: opts.csrfToken,
          onSaved: (saved) => { opts.savedBlocks.push(saved); renderPalette(); announce(`Saved as ${saved.name}`); },
        }));
        head.append(save);
      }
      panel.append(head);
      const fields = el("div", "eb-fields");
      panel.append(fields);
      const fieldErrors = errors[block.id] || {};
      if (fieldErrors[""]) fields.append(el("div", "field-error", fieldErrors[""]));
      // A block from an older design may lack a field: show the type's default for it.
      parts.renderFields(fields, type.fields, { ...(type.defaults || {}), ...block }, {
        mergeTags: opts.mergeTags, errors: fieldErrors, assets, csrfToken: opts.csrfToken,
        assetsUrl: opts.assetsUrl, uploadUrl: opts.uploadUrl,
        set: (name, value, also, setOpts) => {
          setValue(block, name, value, also);
          if (errors[block.id] && name in errors[block.id]) {
            delete errors[block.id][name];
            if (!Object.keys(errors[block.id]).length) delete errors[block.id];
          }
          commit();
          if (setOpts && setOpts.structural) renderCanvas();
          else refreshCard(block);
        },
      });
    }

    function refreshCard(block) {
      const node = canvas.querySelector(`.eb-card[data-id="${CSS.escape(block.id)}"]`);
      if (!node || block.type === "columns") return;
      node.querySelector(":scope > .eb-card-body").replaceChildren(parts.summary(block, { labels, assets }));
      if (!errors[block.id]) {
        node.classList.remove("is-invalid");
        for (const note of node.querySelectorAll(":scope > .eb-card-error")) note.remove();
      }
      const label = node.getAttribute("aria-label").replace(/:.*$/, "");
      node.setAttribute("aria-label", `${label}: ${parts.describe(block, labelOf(block), labels)}`);
    }

    // --- structure: add, move, duplicate, delete ------------------------------------------

    function insertAfterSelected(block) {
      const entry = selectedId ? byId.get(selectedId) : null;
      if (entry && !(entry.parent && block.type === "columns")) {
        entry.list.splice(entry.index + 1, 0, block);
      } else if (entry && entry.parent) {
        const parent = byId.get(entry.parent.id);
        parent.list.splice(parent.index + 1, 0, block);
      } else {
        // Nothing selected: above a closing footer, where new content belongs.
        const last = design.blocks[design.blocks.length - 1];
        design.blocks.splice(last && last.type === "footer" ? design.blocks.length - 1 : design.blocks.length, 0, block);
      }
      done(block.id, "added");
    }

    function done(id, verb) {
      commit();
      selectedId = id; // before the focus lands on its card, so focusing it does not select it again
      renderCanvas(id);
      renderPanel();
      const entry = byId.get(id);
      if (entry) {
        const where = entry.parent ? ` of column ${entry.column + 1}` : "";
        announce(`${labelOf(entry.block)} ${verb}: position ${entry.index + 1} of ${entry.list.length}${where}.`);
      }
    }

    function move(id, delta) {
      const entry = byId.get(id);
      if (!entry) return;
      const { list, index: at, parent } = entry;
      const to = at + delta;
      if (to >= 0 && to < list.length) {
        list.splice(at, 1);
        list.splice(to, 0, entry.block);
      } else if (parent) {
        // Past the edge of a column: out of the columns block, above or below it.
        const outer = byId.get(parent.id);
        list.splice(at, 1);
        outer.list.splice(delta < 0 ? outer.index : outer.index + 1, 0, entry.block);
      } else {
        announce(`${labelOf(entry.block)} is already ${delta < 0 ? "at the top" : "at the bottom"}.`);
        return;
      }
      done(id, "moved");
    }

    function duplicate(id) {
      const entry = byId.get(id);
      if (!entry) return;
      const copy = reid(entry.block);
      entry.list.splice(entry.index + 1, 0, copy);
      done(copy.id, "duplicated");
    }

    function remove(id) {
      const entry = byId.get(id);
      if (!entry) return;
      entry.list.splice(entry.index, 1);
      delete errors[id];
      const neighbour = entry.list[entry.index] || entry.list[entry.index - 1] || entry.parent;
      commit();
      renderCanvas(neighbour ? neighbour.id : null);
      select(neighbour ? neighbour.id : null);
      if (!neighbour) canvas.querySelector(".eb-list")?.focus();
      announce(`${labelOf(entry.block)} deleted.`);
    }

    /* After a drag: the order on screen is the truth; read the tree back from it. */
    function afterDrop() {
      window.setTimeout(() => {
        let added = null;
        const read = (list) => [...list.children].map((node) => {
          if (node.dataset.id && byId.has(node.dataset.id)) {
            const { block } = byId.get(node.dataset.id);
            if (block.type === "columns") {
              block.columns = [...node.querySelectorAll(":scope > .eb-card-body > .eb-columns > .eb-column")].map(read);
            }
            return block;
          }
          if (node.dataset.savedId) {
            const saved = opts.savedBlocks.find((item) => String(item.id) === node.dataset.savedId);
            added = saved ? reid(saved.block) : null;
            return added;
          }
          if (node.dataset.newType && types.has(node.dataset.newType)) {
            added = create(node.dataset.newType, Number(node.dataset.columns) || 2);
            return added;
          }
          return null;
        }).filter(Boolean);
        const top = canvas.querySelector(".eb-top");
        const before = JSON.stringify(design.blocks);
        design.blocks = read(top);
        if (added) {
          done(added.id, "added");
        } else if (JSON.stringify(design.blocks) !== before) {
          const moved = document.activeElement?.closest?.(".eb-card")?.dataset.id || selectedId;
          commit();
          renderCanvas();
          select(selectedId);
          announce(moved && byId.has(moved) ? `${labelOf(byId.get(moved).block)} moved.` : "Block moved.");
        } else {
          renderCanvas();
        }
      }, 0);
    }

    // --- events ------------------------------------------------------------------------

    palette.addEventListener("click", (event) => {
      const item = event.target.closest(".eb-palette-item");
      if (!item) return;
      if (item.dataset.savedId) {
        const saved = opts.savedBlocks.find((s) => String(s.id) === item.dataset.savedId);
        if (saved) insertAfterSelected(reid(saved.block));
      } else {
        insertAfterSelected(create(item.dataset.newType, Number(item.dataset.columns) || 2));
      }
    });

    canvas.addEventListener("click", (event) => {
      const node = event.target.closest(".eb-card");
      if (!node) return;
      const tool = event.target.closest(".eb-tool");
      if (tool) {
        const id = node.dataset.id;
        ({ up: () => move(id, -1), down: () => move(id, 1), duplicate: () => duplicate(id), delete: () => remove(id) })[
          tool.dataset.action]();
        return;
      }
      if (node.dataset.id !== selectedId) select(node.dataset.id);
    });

    canvas.addEventListener("keydown", (event) => {
      const node = event.target.closest(".eb-card");
      if (!node || event.target !== node) return;
      if (event.altKey && (event.key === "ArrowUp" || event.key === "ArrowDown")) {
        event.preventDefault();
        move(node.dataset.id, event.key === "ArrowUp" ? -1 : 1);
      } else if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        select(node.dataset.id, { focusPanel: event.key === "Enter" && node.dataset.id === selectedId });
      }
    });

    // Enter in a panel field edits the email; it must not submit the page's form.
    root.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && event.target.matches("input:not([type=checkbox]):not([type=radio]):not([type=file])")) {
        event.preventDefault();
      }
    });

    canvas.addEventListener("focusin", (event) => {
      const node = event.target.closest(".eb-card");
      if (node && event.target === node && node.dataset.id !== selectedId) select(node.dataset.id);
    });

    // --- start -------------------------------------------------------------------------

    index();
    ({ errors, designErrors } = parts.errorsByBlock(design, opts.errors));
    renderCanvas();
    const firstInvalid = Object.keys(errors)[0];
    select(firstInvalid || null);
    opts.input.value = JSON.stringify(design); // ids given to blocks that had none; not a change

    return {
      get design() { return clone(design); },
      select,
      move,
    };
  }

  window.EmailBuilder = { mount };
})();
