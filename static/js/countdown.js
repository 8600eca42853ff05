// Live SLA countdowns. Every <time data-countdown datetime="ISO 8601"> reads "in 12 minutes"
// or "overdue 5 minutes", in the same words the server rendered first (Django's timeuntil /
// timesince: up to two adjacent units, non-breaking spaces), so the page reads right
// without JavaScript and nothing jumps when the text is refreshed: every 30 s, and after
// htmx swaps new content in. The words come from Django's JavaScript catalogue (/jsi18n/,
// a script file, so the CSP allows it) in the page's language, like the server's.
(() => {
  "use strict";
  // Loads the catalogue once for every script of the page (gettext, ngettext, interpolate),
  // unless the layout already includes it.
  const CATALOGUE = "/jsi18n/";
  const catalogue = window.gettext ? Promise.resolve() : new Promise((resolve) => {
    let tag = document.querySelector(`script[src="${CATALOGUE}"]`);
    if (!tag) {
      tag = document.createElement("script");
      tag.src = CATALOGUE;
      document.head.append(tag);
    }
    tag.addEventListener("load", resolve);
    tag.addEventListener("error", resolve); // English words then
  });
  window.helpdeskI18n = catalogue;
  const _ = (text) => (window.gettext ? window.gettext(text) : text);
  const ngettext = (one, many, count) => (window.ngettext ? window.ngettext(one, many, count)
    : (count === 1 ? one : many));
  const fill = (format, values) => format.replace(/%\((\w+)\)s/g, (match, name) => values[name]);
  const NBSP = "\u00a0";
  // Django's own words for timesince/timeuntil (its German catalogue: "5 Minuten").
  const UNITS = [
    [(n) => ngettext("%(num)d year", "%(num)d years", n), 365 * 86400],
    [(n) => ngettext("%(num)d month", "%(num)d months", n), 30 * 86400],
    [(n) => ngettext("%(num)d week", "%(num)d weeks", n), 7 * 86400],
    [(n) => ngettext("%(num)d day", "%(num)d days", n), 86400],
    [(n) => ngettext("%(num)d hour", "%(num)d hours", n), 3600],
    [(n) => ngettext("%(num)d minute", "%(num)d minutes", n), 60],
  ];
  const unit = (name, count) => name(count).replace("%(num)d", String(count)).replace(/ /g, NBSP);
  const REFRESH_MS = 30000;

  // "1 hour, 5 minutes": the largest unit and, if not zero, the next one down.
  function span(seconds) {
    let rest = Math.floor(Math.max(0, seconds));
    let i = UNITS.findIndex(([, size]) => rest >= size);
    if (i === -1) return unit(UNITS[UNITS.length - 1][0], 0);
    const parts = [];
    while (i < UNITS.length && parts.length < 2) {
      const [name, size] = UNITS[i];
      const count = Math.floor(rest / size);
      if (count === 0) break;
      parts.push(unit(name, count));
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
    const text = overdue ? fill(_("overdue %(time)s"), { time: span(-seconds) })
      : fill(_("in %(time)s"), { time: span(seconds) });
    if (el.textContent !== text) el.textContent = text;
    el.classList.toggle("overdue", overdue);
  }

  function refresh(root) {
    const now = Date.now();
    (root || document).querySelectorAll("time[data-countdown]").forEach((el) => update(el, now));
  }

  catalogue.then(() => {
    refresh(document);
    window.setInterval(() => refresh(document), REFRESH_MS);
    document.addEventListener("htmx:afterSwap", () => refresh(document));
  });
})();
