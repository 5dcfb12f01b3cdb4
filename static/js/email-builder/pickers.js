/* Email builder: the merge-tag picker and the image picker of the side panel.
 *
 * Both open in place, below the field they serve (not floating), so they never leave the
 * screen on a phone and the tab order stays the page's order.
 */
(() => {
  "use strict";

  const parts = (window.EmailBuilderParts = window.EmailBuilderParts || {});
  const { el } = parts;

  /* The text a picked merge tag inserts: with its fallback when it has one. */
  parts.tagText = function tagText(tag) {
    return tag.fallback ? `{{ ${tag.tag} | default(${JSON.stringify(tag.fallback)}) }}` : `{{ ${tag.tag} }}`;
  };

  /* Insert `text` at the cursor of an <input>/<textarea> and tell its listeners. */
  parts.insertAtCursor = function insertAtCursor(input, text) {
    const start = input.selectionStart ?? input.value.length;
    const end = input.selectionEnd ?? start;
    input.setRangeText(text, start, end, "end");
    input.dispatchEvent(new Event("input", { bubbles: true }));
    input.focus();
  };

  let openPicker = null;

  function closePicker(returnFocus) {
    if (!openPicker) return;
    const { node, anchor, onKey, onOutside } = openPicker;
    node.remove();
    document.removeEventListener("keydown", onKey, true);
    document.removeEventListener("pointerdown", onOutside, true);
    anchor.setAttribute("aria-expanded", "false");
    openPicker = null;
    if (returnFocus) anchor.focus();
  }
  parts.closePicker = closePicker;

  /* A searchable list of merge tags, grouped, opened after `host` (the field's row);
     picking one calls onPick(tag) and closes it. */
  parts.openMergeTags = function openMergeTags(anchor, host, mergeTags, onPick) {
    const reopening = openPicker && openPicker.anchor === anchor;
    closePicker(false);
    if (reopening) return;
    const node = el("div", "eb-popover eb-tags");
    node.setAttribute("role", "dialog");
    node.setAttribute("aria-label", "Insert a merge tag");
    const search = el("input", "eb-tags-search");
    search.type = "search";
    search.placeholder = "Search fields, e.g. first name";
    search.setAttribute("aria-label", "Search merge tags");
    search.autocomplete = "off";
    const listing = el("div", "eb-tags-groups");
    const empty = el("p", "eb-tags-empty", "No field matches. Try another word.");
    node.append(search, listing, empty);

    function render() {
      const words = search.value.trim().toLowerCase();
      listing.replaceChildren();
      const groups = new Map();
      for (const tag of mergeTags) {
        const haystack = `${tag.label} ${tag.group} ${tag.tag}`.toLowerCase();
        if (words && !haystack.includes(words)) continue;
        if (!groups.has(tag.group)) groups.set(tag.group, []);
        groups.get(tag.group).push(tag);
      }
      for (const [group, tags] of groups) {
        const section = el("section", "eb-tags-group");
        section.append(el("h4", null, group));
        const ul = el("ul");
        for (const tag of tags) {
          const button = el("button", "eb-tag-option");
          button.type = "button";
          button.append(el("span", "eb-tag-label", tag.label));
          if (tag.fallback) button.append(el("span", "eb-tag-fallback", `if empty: “${tag.fallback}”`));
          button.addEventListener("click", () => {
            closePicker(false);
            onPick(tag);
          });
          const li = el("li");
          li.append(button);
          ul.append(li);
        }
        section.append(ul);
        listing.append(section);
      }
      empty.hidden = groups.size > 0;
    }
    search.addEventListener("input", (event) => {
      event.stopPropagation(); // the search is not part of the email: no preview refresh
      render();
    });
    search.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault(); // never submit the campaign form from here
        const first = listing.querySelector("button");
        if (first) first.click();
      } else if (event.key === "ArrowDown") {
        event.preventDefault();
        const first = listing.querySelector("button");
        if (first) first.focus();
      }
    });
    listing.addEventListener("keydown", (event) => {
      if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
      const buttons = [...listing.querySelectorAll("button")];
      const at = buttons.indexOf(document.activeElement);
      if (at < 0) return;
      event.preventDefault();
      const next = event.key === "ArrowDown" ? at + 1 : at - 1;
      (next < 0 ? search : buttons[Math.min(next, buttons.length - 1)]).focus();
    });
    render();
    host.after(node);
    anchor.setAttribute("aria-expanded", "true");
    const onKey = (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        closePicker(true);
      }
    };
    const onOutside = (event) => {
      if (!node.contains(event.target) && !anchor.contains(event.target)) closePicker(false);
    };
    document.addEventListener("keydown", onKey, true);
    document.addEventListener("pointerdown", onOutside, true);
    openPicker = { node, anchor, onKey, onOutside };
    search.focus();
  };

  /* A merge-tag button for a text field. */
  parts.mergeTagButton = function mergeTagButton(input, host, mergeTags) {
    const button = el("button", "eb-tag-button", "Merge tag");
    button.type = "button";
    button.setAttribute("aria-haspopup", "dialog");
    button.setAttribute("aria-expanded", "false");
    button.title = "Insert a personal detail, like the customer's first name";
    button.addEventListener("click", () => {
      parts.openMergeTags(button, host, mergeTags, (tag) => parts.insertAtCursor(input, parts.tagText(tag)));
    });
    return button;
  };

/* "Save as block…": a name, then the block is posted as JSON {name, block} to opts.url;
   opts = {block, url, csrfToken, onSaved({id, name, block})}. */
  parts.saveBlockForm = function saveBlockForm(head, opts) {
    if (head.nextElementSibling?.classList.contains("eb-save-block")) return;
    const form = el("div", "eb-save-block");
    const name = el("input");
    name.type = "text";
    name.maxLength = 200;
    name.placeholder = "e.g. Header with logo";
    name.setAttribute("aria-label", "Name of the saved block");
    const save = el("button", "small primary", "Save block");
    save.type = "button";
    const cancel = el("button", "small", "Cancel");
    cancel.type = "button";
    const message = el("div", "eb-save-message");
    message.setAttribute("role", "status");
    form.append(name, save, cancel, message);
    head.after(form);
    name.focus();
    name.addEventListener("input", (event) => event.stopPropagation());
    name.addEventListener("keydown", (event) => {
      if (event.key === "Enter") { event.preventDefault(); save.click(); }
    });
    cancel.addEventListener("click", () => form.remove());
    save.addEventListener("click", async () => {
      if (!name.value.trim()) { message.textContent = "Give it a name first."; return; }
      save.disabled = true;
      try {
        const body = { name: name.value.trim(), block: { ...opts.block } };
        delete body.block.id;
        const response = await fetch(opts.url, {
          method: "POST", credentials: "same-origin", body: JSON.stringify(body),
          headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": opts.csrfToken },
        });
        const answer = await response.json().catch(() => ({}));
        if (!response.ok) throw new Error((answer.error && answer.error.message) || `The server answered ${response.status}.`);
        form.replaceChildren(el("span", "eb-saved-note", `Saved as “${body.name}”: find it under Saved blocks.`));
        opts.onSaved({ id: answer.id ?? body.name, name: answer.name || body.name, block: answer.block || body.block });
      } catch (exc) {
        message.textContent = `Not saved: ${exc.message}`;
        save.disabled = false;
      }
    });
  };

  // --- images ---------------------------------------------------------------------------

  async function readError(response) {
    try {
      const body = await response.json();
      if (body && body.error && body.error.message) return body.error.message;
    } catch (_) { /* not JSON */ }
    return `The server answered ${response.status}. Try again.`;
  }

  /* The image field: the chosen image, the library of the tenant's images and an upload
     button. opts = {assetsUrl, uploadUrl, csrfToken, assets (cache), value, onPick(asset|null)}. */
  parts.assetField = function assetField(opts) {
    const root = el("div", "eb-asset");
    const current = el("div", "eb-asset-current");
    const actions = el("div", "eb-asset-actions");
    const error = el("div", "field-error eb-asset-error");
    error.setAttribute("role", "alert");
    const grid = el("div", "eb-asset-grid");
    grid.hidden = true;

    function showCurrent(id) {
      current.replaceChildren();
      const asset = id ? opts.assets[id] : null;
      if (asset && asset.url) {
        const img = el("img");
        img.src = asset.url;
        img.alt = "";
        current.append(img, el("span", "muted", asset.filename || (asset.width ? `${asset.width} × ${asset.height} px` : "")));
        const remove = el("button", "small", "Remove");
        remove.type = "button";
        remove.addEventListener("click", () => { opts.onPick(null); showCurrent(null); });
        current.append(remove);
      } else {
        current.append(el("span", "eb-placeholder", id ? "An uploaded image" : "No image chosen yet"));
      }
    }

    const browse = el("button", null, "Choose from your images");
    browse.type = "button";
    browse.setAttribute("aria-expanded", "false");
    browse.addEventListener("click", async () => {
      if (!grid.hidden) {
        grid.hidden = true;
        browse.setAttribute("aria-expanded", "false");
        return;
      }
      error.textContent = "";
      grid.hidden = false;
      browse.setAttribute("aria-expanded", "true");
      grid.replaceChildren(el("p", "muted", "Loading your images…"));
      try {
        const response = await fetch(opts.assetsUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" });
        if (!response.ok) throw new Error(await readError(response));
        const { data } = await response.json();
        grid.replaceChildren();
        if (!data || !data.length) {
          grid.append(el("p", "muted", "No images yet: upload one with the button above."));
          return;
        }
        for (const asset of data) {
          opts.assets[asset.id] = asset;
          const pick = el("button", "eb-asset-option");
          pick.type = "button";
          pick.title = asset.filename || "";
          pick.setAttribute("aria-label", `Use ${asset.filename || "this image"}`);
          const img = el("img");
          img.src = asset.url;
          img.alt = "";
          img.loading = "lazy";
          pick.append(img);
          pick.addEventListener("click", () => {
            opts.onPick(asset);
            showCurrent(asset.id);
            grid.hidden = true;
            browse.setAttribute("aria-expanded", "false");
          });
          grid.append(pick);
        }
      } catch (exc) {
        grid.hidden = true;
        error.textContent = `Could not load your images: ${exc.message}`;
      }
    });

    const upload = el("label", "button eb-upload", "Upload an image");
    const file = el("input");
    file.type = "file";
    file.accept = "image/png,image/jpeg,image/gif,image/webp";
    file.className = "visually-hidden";
    file.setAttribute("form", "eb-detached"); // never part of the campaign form's submission
    upload.append(file);
    file.addEventListener("change", async () => {
      if (!file.files.length) return;
      error.textContent = "";
      const body = new FormData();
      body.append("file", file.files[0]);
      upload.classList.add("is-busy");
      try {
        const response = await fetch(opts.uploadUrl, {
          method: "POST", body, credentials: "same-origin",
          headers: { "X-CSRFToken": opts.csrfToken, Accept: "application/json" },
        });
        if (response.status !== 201) throw new Error(await readError(response));
        const asset = await response.json();
        opts.assets[asset.id] = { filename: file.files[0].name, ...asset };
        opts.onPick(opts.assets[asset.id]);
        showCurrent(asset.id);
        grid.hidden = true; // the library is read again when opened: the new image is in it
        browse.setAttribute("aria-expanded", "false");
      } catch (exc) {
        error.textContent = exc.message;
      } finally {
        upload.classList.remove("is-busy");
        file.value = "";
      }
    });

    if (opts.assetsUrl) actions.append(browse);
    if (opts.uploadUrl) actions.append(upload);
    showCurrent(opts.value);
    root.append(current, actions, error, grid);
    return root;
  };
})();
