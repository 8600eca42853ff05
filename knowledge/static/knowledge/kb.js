// Knowledge base helpers: insert an article link into the agent's reply (ticket page).
(function () {
  if (window.kbBound) { return; }
  window.kbBound = true;
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-kb-insert]");
    if (!button) { return; }
    event.preventDefault();
    var area = document.getElementById("reply_body");
    if (!area) { return; }
    var link = "[" + button.dataset.kbTitle + "](" + button.dataset.kbInsert + ")";
    var start = area.selectionStart || area.value.length;
    var end = area.selectionEnd || start;
    var before = area.value.slice(0, start);
    var spacer = before && !/\s$/.test(before) ? " " : "";
    area.value = before + spacer + link + area.value.slice(end);
    area.focus();
    var caret = (before + spacer + link).length;
    area.setSelectionRange(caret, caret);
    area.dispatchEvent(new Event("input", { bubbles: true }));
    var status = document.getElementById("kb-insert-status");
    if (status) {
      var _ = window.gettext || function (text) { return text; };
      var words = _("Link to “%(title)s” inserted into the reply.");
      status.textContent = words.replace("%(title)s", button.dataset.kbTitle);
    }
  });
})();
