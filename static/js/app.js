// Small progressive enhancements; every page works without them.
document.addEventListener("DOMContentLoaded", () => {
  // "Select all" checkbox for bulk actions in queues.
  document.body.addEventListener("change", (event) => {
    const toggle = event.target.closest("[data-select-all]");
    if (!toggle) return;
    const scope = document.querySelector(toggle.dataset.selectAll);
    if (!scope) return;
    scope.querySelectorAll("input[type=checkbox][name=ids]").forEach((box) => {
      box.checked = toggle.checked;
    });
  });
  // Keyboard shortcuts in the agent workspace: "/" focuses search, "r" the reply box.
  document.addEventListener("keydown", (event) => {
    if (event.target.closest("input, textarea, select, [contenteditable]")) return;
    if (event.key === "/") {
      const search = document.querySelector("[data-shortcut=search]");
      if (search) { event.preventDefault(); search.focus(); }
    } else if (event.key === "r") {
      const reply = document.querySelector("[data-shortcut=reply]");
      if (reply) { event.preventDefault(); reply.focus(); }
    }
  });
});

// htmx: a refused action answers 400 with its message and HX-Retarget (the flash area);
// htmx does not swap error responses by default, so let those through.
document.addEventListener("htmx:beforeSwap", (event) => {
  const xhr = event.detail.xhr;
  if (xhr.status === 400 && xhr.getResponseHeader("HX-Retarget")) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});
