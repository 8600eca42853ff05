// "@" completion in the agent's note box: typing "@ca" lists staff who can see the ticket
// (from the textarea's data-mentions-url); arrows move, Enter or Tab picks, Escape closes.
// Only while "Internal note" is chosen: mentions notify from notes only.
(() => {
  // Words from Django's JavaScript catalogue (loaded by countdown.js), English without it.
  const _ = (text) => (window.gettext ? window.gettext(text) : text);
  const fill = (format, values) => format.replace(/%\((\w+)\)s/g, (match, name) => values[name]);
  const TOKEN = /(^|[^\w@.+-])@([\w.+-]{0,50})$/;

  function setUp(box) {
    const form = box.form;
    const list = document.createElement("ul");
    list.id = `${box.id || "note"}-mentions`;
    list.className = "mention-list";
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", _("People to mention"));
    list.hidden = true;
    const status = document.createElement("p");
    status.className = "visually-hidden";
    status.setAttribute("role", "status");
    box.after(list, status);
    box.setAttribute("aria-autocomplete", "list");
    box.setAttribute("aria-controls", list.id);
    let items = [], active = -1, request = null, timer = null;

    const isNote = () => {
      const chosen = form && form.querySelector("input[name=visibility]:checked");
      return !chosen || chosen.value === "note";
    };
    const token = () => {
      const match = TOKEN.exec(box.value.slice(0, box.selectionStart));
      return match ? match[2] : null;
    };
    const close = () => {
      list.hidden = true;
      list.replaceChildren();
      items = [];
      active = -1;
      box.removeAttribute("aria-activedescendant");
    };
    const highlight = (index) => {
      active = index;
      [...list.children].forEach((li, i) => li.setAttribute("aria-selected", String(i === index)));
      if (index >= 0) box.setAttribute("aria-activedescendant", list.children[index].id);
    };
    const pick = (index) => {
      const person = items[index];
      const caret = box.selectionStart;
      const before = box.value.slice(0, caret).replace(/@[\w.+-]*$/, `@${person.username} `);
      box.value = before + box.value.slice(caret);
      box.setSelectionRange(before.length, before.length);
      close();
      status.textContent = fill(_("%(name)s mentioned."), { name: person.username });
      box.focus();
    };
    const show = (results) => {
      close();
      items = results;
      results.forEach((person, i) => {
        const li = document.createElement("li");
        li.id = `${list.id}-${i}`;
        li.setAttribute("role", "option");
        li.dataset.index = String(i);
        li.textContent = `@${person.username} (${person.name})`;
        list.append(li);
      });
      list.hidden = results.length === 0;
      if (results.length) highlight(0);
      status.textContent = results.length
        ? fill(_("%(count)s people to mention; arrows to choose, Enter to pick."),
          { count: results.length })
        : _("Nobody to mention by that name.");
    };
    const lookUp = () => {
      const q = isNote() ? token() : null;
      if (q === null) { close(); return; }
      if (request) request.abort();
      request = new AbortController();
      const url = `${box.dataset.mentionsUrl}?q=${encodeURIComponent(q)}`;
      fetch(url, { headers: { Accept: "application/json" }, signal: request.signal,
                   credentials: "same-origin" })
        .then((r) => (r.ok ? r.json() : { results: [] }))
        .then((data) => { if (token() === q) show(data.results || []); })
        .catch(() => {});
    };

    box.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(lookUp, 120); });
    box.addEventListener("keydown", (event) => {
      if (list.hidden || !items.length) return;
      if (event.key === "ArrowDown") {
        event.preventDefault(); highlight((active + 1) % items.length);
      } else if (event.key === "ArrowUp") {
        event.preventDefault(); highlight((active - 1 + items.length) % items.length);
      } else if ((event.key === "Enter" || event.key === "Tab") && active >= 0) {
        event.preventDefault(); pick(active);
      } else if (event.key === "Escape") {
        event.preventDefault(); close();
      }
    });
    box.addEventListener("blur", () => setTimeout(close, 150));
    list.addEventListener("mousedown", (event) => {
      const li = event.target.closest("[role=option]");
      if (li) { event.preventDefault(); pick(Number(li.dataset.index)); }
    });
  }

  const init = (root) => root.querySelectorAll("textarea[data-mentions-url]").forEach((box) => {
    if (!box.dataset.mentionsReady) { box.dataset.mentionsReady = "1"; setUp(box); }
  });
  document.addEventListener("DOMContentLoaded", () => init(document));
  // The reply form is swapped by htmx after a send: enhance the new textarea too.
  document.addEventListener("htmx:load", (event) => init(event.detail.elt));
})();
