// "Copy" buttons (data-copy="text"): the text goes on the clipboard, for webhook URLs and
// DNS records that are pasted into another console.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const label = button.textContent;
  try {
    await navigator.clipboard.writeText(button.dataset.copy);
    button.textContent = "Copied";
  } catch {
    window.prompt("Copy this:", button.dataset.copy);
  }
  setTimeout(() => { button.textContent = label; }, 1500);
});
