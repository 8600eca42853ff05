// Live SLA countdowns. Every <time data-countdown datetime="ISO 8601"> reads "in 12 minutes"
// or "overdue 5 minutes", in the same words the server rendered first (Django's timeuntil /
// timesince: up to two adjacent units, non-breaking spaces), so the page reads right
// without JavaScript and nothing jumps when the text is refreshed: every 30 s, and after
// htmx swaps new content in.
(() => {
  "use strict";
  const NBSP = "\u00a0";
  const UNITS = [
    ["year", 365 * 86400], ["month", 30 * 86400], ["week", 7 * 86400],
    ["day", 86400], ["hour", 3600], ["minute", 60],
  ];
  const REFRESH_MS = 30000;

  // "1 hour, 5 minutes": the largest unit and, if not zero, the next one down.
  function span(seconds) {
    let rest = Math.floor(Math.max(0, seconds));
    let i = UNITS.findIndex(([, size]) => rest >= size);
    if (i === -1) return "0" + NBSP + "minutes";
    const parts = [];
    while (i < UNITS.length && parts.length < 2) {
      const [name, size] = UNITS[i];
      const count = Math.floor(rest / size);
      if (count === 0) break;
      parts.push(count + NBSP + name + (count === 1 ? "" : "s"));
      rest -= count * size;
      i += 1;
    }
    return parts.join(", ");
  }

  function parse(value) {
    // Django writes microseconds; Date.parse wants at most milliseconds.
    return Date.parse((value || "").replace(/(\.\d{3})\d+/, "$1"));
  }

  function update(el, now) {
    const due = parse(el.getAttribute("datetime"));
    if (Number.isNaN(due)) return;
    const seconds = (due - now) / 1000;
    const overdue = seconds <= 0;
    const text = overdue ? "overdue " + span(-seconds) : "in " + span(seconds);
    if (el.textContent !== text) el.textContent = text;
    el.classList.toggle("overdue", overdue);
  }

  function refresh(root) {
    const now = Date.now();
    (root || document).querySelectorAll("time[data-countdown]").forEach((el) => update(el, now));
  }

  refresh(document);
  window.setInterval(() => refresh(document), REFRESH_MS);
  document.addEventListener("htmx:afterSwap", () => refresh(document));
})();
