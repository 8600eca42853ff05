// Small progressive enhancements; the pages' links and forms work without them.
(() => {
  document.documentElement.classList.add("js");
  const typingField = (el) => el && el.closest && el.closest("input, textarea, select, [contenteditable]");

  // --- the left navigation folds to icons; the choice is remembered in this browser ---
  function applyNav(collapsed) {
    document.body.classList.toggle("nav-collapsed", collapsed);
    const toggle = document.getElementById("nav-toggle");
    if (toggle) toggle.setAttribute("aria-expanded", String(!collapsed));
  }

  // --- dialogs: <button data-dialog="id"> opens the <dialog>, [data-close-dialog] closes ---
  function openDialog(id) {
    const dialog = document.getElementById(id);
    if (!dialog || dialog.open) return;
    document.querySelectorAll("details.menu[open]").forEach((m) => m.removeAttribute("open"));
    dialog.showModal();
    const first = dialog.querySelector("input:not([type=hidden]), select, textarea, button:not([data-close-dialog])");
    if (first) first.focus();
  }

  // --- the cards of the ticket page's right column fold away (remembered per card) ---
  function foldableCards(root) {
    root.querySelectorAll(".ticket-side > section.card[id]").forEach((card) => {
      const heading = card.querySelector(":scope > h2:not(.visually-hidden)");
      if (!heading || heading.querySelector("button")) return;
      const button = document.createElement("button");
      button.type = "button";
      button.className = "fold";
      button.textContent = heading.textContent;
      heading.textContent = "";
      heading.appendChild(button);
      const key = `fold:${card.id}`;
      const set = (open) => {
        button.setAttribute("aria-expanded", String(open));
        card.classList.toggle("folded", !open);
        Array.from(card.children).forEach((child) => { if (child !== heading) child.hidden = !open; });
      };
      set(localStorage.getItem(key) !== "closed");
      button.addEventListener("click", () => {
        const open = button.getAttribute("aria-expanded") !== "true";
        localStorage.setItem(key, open ? "open" : "closed");
        set(open);
      });
    });
  }

  // --- queue rows: j / k move, o or Enter opens ---
  function queueRows() {
    return Array.from(document.querySelectorAll("#queue-table tbody tr[data-href]"));
  }
  function moveRow(step) {
    const rows = queueRows();
    if (!rows.length) return;
    let index = rows.findIndex((row) => row.classList.contains("current"));
    index = index < 0 ? (step > 0 ? 0 : rows.length - 1) : Math.min(Math.max(index + step, 0), rows.length - 1);
    rows.forEach((row) => row.classList.remove("current"));
    const row = rows[index];
    row.classList.add("current");
    const link = row.querySelector("a.row-link");
    if (link) link.focus();
  }
  function openRow() {
    const row = document.querySelector("#queue-table tbody tr.current[data-href]");
    if (row) window.location.assign(row.dataset.href);
    return Boolean(row);
  }

  function chooseTab(value) {
    const radio = document.querySelector(`#reply-form input[name=visibility][value=${value}]`);
    const body = document.querySelector("[data-shortcut=reply]");
    if (!radio || !body) return false;
    radio.checked = true;
    body.focus();
    return true;
  }

  // --- typing: the presence poll tells colleagues for a few seconds after a keystroke ---
  let typingTimer = null;
  function markTyping() {
    const flag = document.getElementById("presence-typing");
    if (!flag) return;
    flag.value = "1";
    clearTimeout(typingTimer);
    typingTimer = setTimeout(() => { flag.value = "0"; }, 6000);
  }

  function onKey(event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      const form = event.target.closest && event.target.closest("#reply-form");
      if (form) { event.preventDefault(); form.requestSubmit(); }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return;
    if (typingField(event.target) || document.querySelector("dialog[open]")) return;
    const click = (selector) => {
      const el = document.querySelector(selector);
      if (el) { event.preventDefault(); el.click(); }
    };
    switch (event.key) {
      case "/": {
        const search = document.querySelector("[data-shortcut=search]");
        if (search) { event.preventDefault(); search.focus(); }
        break;
      }
      case "r": if (chooseTab("public")) event.preventDefault(); break;
      case "n": if (chooseTab("note")) event.preventDefault(); break;
      case "a": click("[data-shortcut=assign]"); break;
      case "j": if (queueRows().length) { event.preventDefault(); moveRow(1); } break;
      case "k": if (queueRows().length) { event.preventDefault(); moveRow(-1); } break;
      case "o": if (openRow()) event.preventDefault(); break;
      case "Enter":
        if (event.target.closest && event.target.closest("#queue-table tbody tr.current") &&
            !event.target.closest("a, button")) { if (openRow()) event.preventDefault(); }
        break;
      case "?": event.preventDefault(); openDialog("shortcuts-dialog"); break;
      default: break;
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    applyNav(localStorage.getItem("nav") === "collapsed");
    foldableCards(document);
    document.querySelectorAll("dialog[data-open-on-load]").forEach((d) => openDialog(d.id));
    const thread = document.querySelector(".thread");
    if (thread) thread.scrollTop = thread.scrollHeight;

    document.body.addEventListener("click", (event) => {
      const toggle = event.target.closest("#nav-toggle");
      if (toggle) {
        const collapsed = !document.body.classList.contains("nav-collapsed");
        localStorage.setItem("nav", collapsed ? "collapsed" : "open");
        applyNav(collapsed);
        return;
      }
      const opener = event.target.closest("[data-dialog]");
      if (opener) { event.preventDefault(); openDialog(opener.dataset.dialog); return; }
      if (event.target.closest("[data-show-shortcuts]")) { openDialog("shortcuts-dialog"); return; }
      const closer = event.target.closest("[data-close-dialog]");
      if (closer) { closer.closest("dialog").close(); return; }
      // A click outside an open menu closes it.
      document.querySelectorAll("details.menu[open]").forEach((menu) => {
        if (!menu.contains(event.target)) menu.removeAttribute("open");
      });
      // A click on a queue row (not on its controls) opens the ticket.
      const row = event.target.closest("#queue-table tbody tr[data-href]");
      if (row && !event.target.closest("a, button, input, label, select")) window.location.assign(row.dataset.href);
    });
    // "Select all" checkbox for bulk actions in queues; the bar shows how many are chosen.
    document.body.addEventListener("change", (event) => {
      const toggle = event.target.closest("[data-select-all]");
      if (toggle) {
        const scope = document.querySelector(toggle.dataset.selectAll);
        if (scope) scope.querySelectorAll("input[type=checkbox][name=ids]").forEach((box) => { box.checked = toggle.checked; });
      }
      if (event.target.name === "ids" || toggle) {
        const count = document.querySelectorAll("#queue-table input[name=ids]:checked").length;
        const bar = document.getElementById("bulk-bar");
        const said = document.getElementById("bulk-count");
        if (bar) bar.classList.toggle("has-selection", count > 0);
        if (said) said.textContent = said.dataset.template.replace("%s", String(count));
      }
    });
    document.body.addEventListener("input", (event) => {
      if (event.target.closest("#reply-form textarea")) markTyping();
    });
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        document.querySelectorAll("details.menu[open]").forEach((menu) => {
          menu.removeAttribute("open");
          const summary = menu.querySelector("summary");
          if (summary) summary.focus();
        });
      }
    });
    document.addEventListener("keydown", onKey);
  });

  // htmx: a refused action answers 400 with its message and HX-Retarget; htmx does not
  // swap error responses by default, so let those through.
  document.addEventListener("htmx:beforeSwap", (event) => {
    const xhr = event.detail.xhr;
    if (xhr.status === 400 && xhr.getResponseHeader("HX-Retarget")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
  // After the conversation is swapped in, show its newest message.
  document.addEventListener("htmx:afterSwap", (event) => {
    if (event.detail.target && event.detail.target.id === "conversation") {
      const thread = document.querySelector(".thread");
      if (thread) thread.scrollTop = thread.scrollHeight;
    }
  });
})();
