// "Copy" buttons: put the text of the field named by data-copy-from on the clipboard (the
// signup form's address and snippet); without clipboard access the text is selected instead.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy-from]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copyFrom);
  if (!source) return;
  const label = button.textContent;
  try {
    await navigator.clipboard.writeText(source.value);
    button.textContent = "Copied";
  } catch {
    source.focus();
    source.select();
    button.textContent = "Press Ctrl+C to copy";
  }
  setTimeout(() => { button.textContent = label; }, 1800);
});
