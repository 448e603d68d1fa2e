// Partner Ops Portal — the little JavaScript the pages need, under a strict CSP (script-src 'self': no eval,
// no inline scripts, no inline handlers). Every behaviour is switched on by an attribute in the markup; the
// recipes are in static/README.md. Loaded with `defer` after htmx, so `window.htmx` exists when this runs.
(function () {
  "use strict";

  var REFRESH_EVENT = "refresh";
  // Styles that only make sense with this script (the phone's folded menu) hang on this class.
  document.documentElement.classList.add("js");

  function all(root, selector) {
    // Elements matching `selector` inside `root`, and `root` itself when it matches.
    root = root || document;
    var found = Array.prototype.slice.call(root.querySelectorAll ? root.querySelectorAll(selector) : []);
    if (root.matches && root.matches(selector)) found.unshift(root);
    return found;
  }

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  // A polite live region, created once, so "Copied" and similar reach screen readers too.
  var liveRegion = null;
  function announce(text) {
    if (!liveRegion) {
      liveRegion = document.createElement("div");
      liveRegion.className = "visually-hidden";
      liveRegion.setAttribute("aria-live", "polite");
      liveRegion.id = "app-live";
      document.body.appendChild(liveRegion);
    }
    liveRegion.textContent = "";
    setTimeout(function () { liveRegion.textContent = text; }, 50);
  }

  // -- (b) htmx under a strict CSP ------------------------------------------------------------------
  // htmx 4 has no "allowEval" switch: it compiles hx-on:* handlers, `js:`/`javascript:` values (hx-vals,
  // hx-headers, hx-confirm, hx-action) and trigger filters (`click[ctrlKey]`) with the Function constructor,
  // which `script-src 'self'` forbids. This extension replaces htmx's Function constructors (through the
  // extension API's initSecurity) with one that refuses and names the element, and skips hx-on:* wiring, so a
  // template that uses those features fails loudly in the console (and in the browser tests) instead of
  // tripping the CSP. Behaviour belongs in this file, keyed on data-* attributes.
  if (window.htmx && typeof window.htmx.registerExtension === "function") {
    var refuseEval = function () {
      var code = arguments.length ? arguments[arguments.length - 1] : "";
      return {
        call: function (thisArg) {
          // htmx may have wired an hx-on:* handler before this extension registered: name it when it is one.
          var what = hasHxOn(thisArg) && String(code).indexOf("with(event") === 0 ? " (an hx-on:* handler)" : "";
          console.error("htmx tried to evaluate JavaScript" + what + ", which the portal's CSP forbids; put behaviour in static/app.js",
            { element: thisArg, code: code });
          return undefined;
        }
      };
    };
    var hasHxOn = function (elt) {
      if (!elt || !elt.attributes) return false;
      for (var i = 0; i < elt.attributes.length; i++) {
        var name = elt.attributes[i].name;
        if (name.indexOf("hx-on") === 0 || name.indexOf("data-hx-on") === 0) return true;
      }
      return false;
    };
    window.htmx.registerExtension("portal-csp", {
      init: function (api) { api.initSecurity(null, refuseEval, refuseEval); },
      htmx_before_on_init: function (elt) {
        if (!hasHxOn(elt)) return;
        console.error("hx-on:* needs eval, which the portal's CSP forbids; put behaviour in static/app.js", elt);
        return false;
      }
    });
  }

  // -- (a) CSRF header on every state-changing htmx request ----------------------------------------
  // htmx 4: the event is htmx:config:request and the request lives in event.detail.ctx.request.
  document.addEventListener("htmx:config:request", function (event) {
    var request = event.detail && event.detail.ctx && event.detail.ctx.request;
    if (!request) return;
    var method = String(request.method || "GET").toUpperCase();
    if (method !== "GET" && method !== "HEAD") request.headers["X-CSRFToken"] = csrfToken();
  });

  // -- (c) charts: figure JSON in <script type="application/json" data-chart="ID"> -> Plotly --------
  // plotly.js (1.2 MB) is loaded on first need, after the page is usable, and only on pages with a chart.
  var CHART_SCRIPTS = 'script[type="application/json"][data-chart]';
  var plotlyState = "idle"; // idle | loading | failed

  function ensurePlotly() {
    if (window.Plotly || plotlyState !== "idle") return;
    var meta = document.querySelector('meta[name="plotly-src"]');
    if (!meta) return;
    plotlyState = "loading";
    var script = document.createElement("script");
    script.src = meta.getAttribute("content");
    script.async = true;
    script.addEventListener("load", function () { plotlyState = "idle"; drawCharts(document); });
    script.addEventListener("error", function () {
      // No chart library: every chart offers its table instead, already open.
      plotlyState = "failed";
      all(document, ".chart-table-toggle").forEach(function (toggle) { setTableOpen(toggle, true); });
    });
    document.head.appendChild(script);
  }

  function markWhenReady() {
    // Performance marks for bench/overview.py: every card filled; every chart drawn.
    if (!document.querySelector("[data-card]") || document.querySelector("[data-card].is-loading")) return;
    if (!performance.getEntriesByName("cards-filled").length) performance.mark("cards-filled");
    var pending = all(document, CHART_SCRIPTS).some(function (s) {
      var el = document.getElementById(s.getAttribute("data-chart"));
      return !el || el.getAttribute("data-chart-drawn") !== "true";
    });
    if (!pending && !performance.getEntriesByName("charts-drawn").length) performance.mark("charts-drawn");
  }

  function drawCharts(root) {
    markWhenReady();
    var scripts = all(root, CHART_SCRIPTS);
    if (!scripts.length) return;
    if (!window.Plotly) { ensurePlotly(); return; }
    scripts.forEach(function (script) {
      var target = document.getElementById(script.getAttribute("data-chart"));
      if (!target || target.getAttribute("data-chart-drawn") === "true" || target.getAttribute("data-chart-drawn") === "pending") return;
      var figure;
      try { figure = JSON.parse(script.textContent); } catch (e) {
        console.error("chart " + target.id + ": figure JSON does not parse", e);
        return;
      }
      target.setAttribute("data-chart-drawn", "pending");
      window.Plotly.newPlot(target, figure.data || [], figure.layout || {}, {
        displaylogo: false, responsive: true, displayModeBar: false
      }).then(function () {
        target.setAttribute("data-chart-drawn", "true");
        markWhenReady();
      });
    });
  }

  // Charts that leave the page (any htmx swap, or any other removal) are purged, so plotly drops its
  // listeners and resize observers. A MutationObserver sees every swap style, out-of-band swaps included.
  function purgeRemoved(mutations) {
    if (!window.Plotly) return;
    mutations.forEach(function (mutation) {
      Array.prototype.forEach.call(mutation.removedNodes, function (node) {
        if (node.nodeType !== 1 || node.isConnected) return;
        all(node, ".js-plotly-plot").forEach(function (plot) { window.Plotly.purge(plot); });
      });
    });
  }

  // -- (d) "show as table" toggles for charts ---------------------------------------------------------
  function setTableOpen(toggle, open) {
    var table = document.getElementById(toggle.getAttribute("aria-controls"));
    toggle.setAttribute("aria-expanded", String(open));
    toggle.textContent = open ? (toggle.getAttribute("data-label-hide") || "Hide table")
                              : (toggle.getAttribute("data-label-show") || "Show as table");
    if (table) table.hidden = !open;
  }

  // -- (e) copy buttons -------------------------------------------------------------------------------
  function selectText(el) {
    if (typeof el.select === "function") { el.select(); return; }
    var range = document.createRange();
    range.selectNodeContents(el);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function copyFrom(button) {
    var source = document.querySelector(button.getAttribute("data-copy-target"));
    if (!source) return;
    var text = ("value" in source && /^(INPUT|TEXTAREA)$/.test(source.tagName) ? source.value : source.textContent).trim();
    var label = button.getAttribute("data-copy-label") || button.textContent;
    button.setAttribute("data-copy-label", label);
    var show = function (message, spoken) {
      button.textContent = message;
      button.classList.add("is-copied");
      announce(spoken);
      clearTimeout(button._copyTimer);
      button._copyTimer = setTimeout(function () {
        button.textContent = label;
        button.classList.remove("is-copied");
      }, 2000);
    };
    var fallback = function () {
      // Plain-http deployments have no async clipboard: select the text and use the legacy command.
      selectText(source);
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      if (ok) show("Copied", "Copied to the clipboard");
      else show("Selected: press Ctrl+C", "Text selected: press Control C to copy");
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { show("Copied", "Copied to the clipboard"); }, fallback);
    } else {
      fallback();
    }
  }

  // -- (f) leave guard: a page that shows secrets asks before it is left ------------------------------
  var LEAVE_MESSAGE = "You have not confirmed that you stored these secrets. They will not be shown again. Leave this page?";

  function activeGuard() {
    return document.querySelector("[data-confirm-leave]:not([data-confirm-leave-released])");
  }
  function releaseGuards(scope) {
    var guards = scope ? [scope] : all(document, "[data-confirm-leave]");
    guards.forEach(function (guard) { guard.setAttribute("data-confirm-leave-released", ""); });
  }
  function mayLeave() {
    // True when nothing guards the page, or the admin confirms leaving (which releases the guard).
    if (!activeGuard()) return true;
    var guard = activeGuard();
    if (window.confirm(guard.getAttribute("data-confirm-leave") || LEAVE_MESSAGE)) {
      releaseGuards();
      return true;
    }
    return false;
  }
  function leavesPage(link, event) {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return false;
    if (link.hasAttribute("download") || (link.target && link.target !== "_self")) return false;
    var href = link.getAttribute("href") || "";
    if (href.charAt(0) === "#") return false;
    var url = new URL(link.href, document.baseURI);
    return !(url.pathname === location.pathname && url.search === location.search && url.hash);
  }

  // -- (g) cards refresh every 60 s while the tab is visible, and on demand --------------------------
  // Markup: hx-trigger="every 60s, refresh" plus data-auto-refresh. A timed request that fires while the
  // tab is hidden is cancelled and remembered; when the tab is visible again, each skipped element gets one
  // `refresh` event. `[data-refresh-card="#id"]` buttons fire `refresh` on demand.
  var skipped = [];
  document.addEventListener("htmx:config:request", function (event) {
    var ctx = event.detail && event.detail.ctx;
    var source = ctx && ctx.sourceElement;
    if (!source || !source.matches || !source.matches("[data-auto-refresh], [data-poll]")) return;
    if (document.visibilityState === "visible") return;
    event.preventDefault();
    if (skipped.indexOf(source) < 0) skipped.push(source);
  });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState !== "visible") return;
    var due = skipped;
    skipped = [];
    due.forEach(function (el) { if (el.isConnected && window.htmx) window.htmx.trigger(el, REFRESH_EVENT); });
  });

  // -- (h) local times ------------------------------------------------------------------------------
  var TIME_FORMATS = {
    time: { hour: "2-digit", minute: "2-digit", second: "2-digit" },
    date: { year: "numeric", month: "short", day: "numeric" },
    datetime: { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" }
  };
  function localiseTime(el) {
    var iso = el.getAttribute("datetime");
    var when = new Date(iso);
    if (!iso || isNaN(when.getTime())) return;
    if (!el.hasAttribute("title")) el.setAttribute("title", iso);
    var options = TIME_FORMATS[el.getAttribute("data-format")] || TIME_FORMATS.datetime;
    el.textContent = when.toLocaleString(undefined, options);
  }

  // -- (i) confirm by typing ------------------------------------------------------------------------
  function confirmMatches(button) {
    var input = document.querySelector(button.getAttribute("data-confirm-match"));
    return !!input && input.value.trim() === (input.getAttribute("data-expected") || "").trim() && input.value.trim() !== "";
  }
  function updateConfirmMatch(button) { button.disabled = !confirmMatches(button); }

  // -- (j) the sign-in's end: its notice shows itself a few minutes before SIR Giving's token expires --
  function watchSessionEnd() {
    var notice = document.getElementById("session-ends");
    if (!notice || !notice.hidden) return;
    var endsAt = Date.parse(notice.getAttribute("data-ends-at"));
    var warnMs = 1000 * (parseInt(notice.getAttribute("data-warn-seconds"), 10) || 300);
    if (isNaN(endsAt)) return;
    var wait = endsAt - warnMs - Date.now();
    function show() { notice.hidden = false; }
    if (wait <= 0) show();
    else window.setTimeout(show, Math.min(wait, 2147483647));  // setTimeout's longest wait
  }

  // -- (k) keyboard focus where typing starts ------------------------------------------------------------
  // On arrival: a once-only secret marked [data-focus-on-load], else the first field of a form[data-focus-first]
  // (unless the admin has already moved focus, or the URL points at a fragment). After a swap that brings
  // back a form with errors: its first invalid field.
  var FIELDS = "input:not([type=hidden]):not([disabled]), select:not([disabled]), textarea:not([disabled])";
  function firstField(form, selector) {
    return form ? all(form, selector).filter(function (el) { return el.getClientRects().length > 0; })[0] : null;
  }
  function focusOnArrival() {
    if (location.hash || (document.activeElement && document.activeElement !== document.body)) return;
    var target = document.querySelector("[data-focus-on-load]") || firstField(document.querySelector("form[data-focus-first]"), FIELDS);
    if (target) target.focus();
  }
  function focusAfterSwap(root) {
    var target = all(root, "[data-focus-on-load]")[0];
    all(root, "form[data-focus-first]").forEach(function (form) {
      target = target || firstField(form, "[aria-invalid=true], .field-invalid input:not([type=hidden]), .field-invalid select, .field-invalid textarea");
    });
    if (target) target.focus();
  }

  // -- (l) a press on a submit button is not lost to a field's live check -----------------------------
  // `[data-live-check]` wraps a field checked as it is left (hx-trigger="change", the answer swapped in place).
  // Pressing the form's submit button takes the focus from that field and starts its check; the answer, often
  // back before the button is released, can take an error message away and move the button up, so the release
  // lands beside it and the click never happens (the top-up's "Review request" seemed to do nothing). The
  // submit checks every field anyway: that check is skipped, and sent after all if the press ends without a
  // click (the pointer dragged off the button).
  var pressedSubmit = null;
  var heldChecks = [];
  document.addEventListener("pointerdown", function (event) {
    var button = event.target.closest ? event.target.closest("button, input[type=submit]") : null;
    pressedSubmit = button && button.type === "submit" && button.form ? button : null;
  }, true);
  document.addEventListener("htmx:config:request", function (event) {
    var source = event.detail && event.detail.ctx && event.detail.ctx.sourceElement;
    if (!pressedSubmit || !source || !source.closest || !source.closest("[data-live-check]")) return;
    if (source.form !== pressedSubmit.form) return;
    event.preventDefault();
    if (heldChecks.indexOf(source) < 0) heldChecks.push(source);
  });
  document.addEventListener("click", function (event) {
    // The submit it was pressed for: the held checks are part of it. (Registered after the leave guard's
    // listener, which may still stop the click; then the form is not sent and the checks go out below.)
    if (pressedSubmit && event.target.closest && event.target.closest("button, input[type=submit]") === pressedSubmit &&
        !event.defaultPrevented) heldChecks = [];
  }, true);
  function releasePress() {
    // After the release's click, if any (same task): checks still held go out now.
    setTimeout(function () {
      var held = heldChecks;
      heldChecks = [];
      pressedSubmit = null;
      held.forEach(function (field) { if (field.isConnected && window.htmx) window.htmx.trigger(field, "change"); });
    }, 0);
  }
  document.addEventListener("pointerup", releasePress, true);
  document.addEventListener("pointercancel", releasePress, true);

  // -- everything that runs on new content: page load, and after each htmx swap ----------------------
  function enhance(root) {
    drawCharts(root);
    all(root, "time[datetime][data-local]").forEach(localiseTime);
    all(root, "[data-confirm-match]").forEach(updateConfirmMatch);
  }

  document.addEventListener("DOMContentLoaded", function () {
    enhance(document);
    watchSessionEnd();
    focusOnArrival();
    new MutationObserver(purgeRemoved).observe(document.body, { childList: true, subtree: true });
  });
  document.addEventListener("htmx:after:settle", function (event) {
    // htmx 4: detail is {task, newContent, settleTasks}; newContent holds the swapped-in nodes.
    var fresh = event.detail && event.detail.newContent;
    var roots = fresh ? Array.prototype.filter.call(fresh, function (n) { return n.nodeType === 1 && n.isConnected; }) : [];
    if (!roots.length) roots = [document];
    roots.forEach(enhance);
    roots.forEach(focusAfterSwap);
    markWhenReady();
  });

  // -- one click listener (capture phase, so the leave guard runs before htmx's own handlers) --------
  document.addEventListener("click", function (event) {
    var target = event.target.closest ? event.target : event.target.parentElement;
    if (!target) return;

    var link = target.closest("a[href]");
    if (link && activeGuard() && !link.closest("[data-confirm-leave-release]") && leavesPage(link, event) && !mayLeave()) {
      event.preventDefault();
      event.stopPropagation(); // keeps htmx (hx-boost, hx-get on the link) from navigating anyway
      return;
    }

    var navToggle = target.closest("[data-nav-toggle]");
    if (navToggle) {
      var menu = document.getElementById(navToggle.getAttribute("aria-controls"));
      var open = navToggle.getAttribute("aria-expanded") !== "true";
      navToggle.setAttribute("aria-expanded", String(open));
      if (menu) menu.classList.toggle("is-open", open);
      return;
    }
    var toggle = target.closest(".chart-table-toggle, [data-table-toggle]");
    if (toggle) {
      setTableOpen(toggle, toggle.getAttribute("aria-expanded") !== "true");
      return;
    }
    var copy = target.closest("[data-copy-target]");
    if (copy) {
      event.preventDefault();
      copyFrom(copy);
      return;
    }
    var refresh = target.closest("[data-refresh-card]");
    if (refresh && window.htmx) {
      var card = document.querySelector(refresh.getAttribute("data-refresh-card"));
      if (card) window.htmx.trigger(card, REFRESH_EVENT);
    }
  }, true);

  document.addEventListener("input", function (event) {
    all(document, "[data-confirm-match]").forEach(function (button) {
      if (event.target.matches(button.getAttribute("data-confirm-match"))) updateConfirmMatch(button);
    });
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    // Confirm by typing: a submit that slipped past the disabled button (Enter in another field) stops here.
    var guarded = all(form, "[data-confirm-match]").filter(function (b) { return b.form === form || form.contains(b); });
    if (guarded.length && !guarded.every(confirmMatches)) {
      event.preventDefault();
      event.stopPropagation();
      return;
    }
    var releasing = form.matches("[data-confirm-leave-release]") ||
      (event.submitter && event.submitter.hasAttribute("data-confirm-leave-release"));
    if (releasing) { releaseGuards(form.closest("[data-confirm-leave]")); return; }
    // Any other form that would leave a guarded page (a full-page POST or a boosted form) asks first.
    if (activeGuard() && !form.hasAttribute("hx-post") && !form.hasAttribute("hx-get") && !mayLeave()) {
      event.preventDefault();
      event.stopPropagation();
    }
  }, true);

  window.addEventListener("beforeunload", function (event) {
    if (!activeGuard()) return;
    event.preventDefault();
    event.returnValue = "";
  });

  // htmx navigation that replaces the page (hx-boost, or a request that pushes a URL and swaps the body)
  // from anything the click and submit guards above did not see (keyboard shortcuts, htmx.ajax).
  document.addEventListener("htmx:config:request", function (event) {
    var ctx = event.detail && event.detail.ctx;
    if (!ctx || !activeGuard()) return;
    var source = ctx.sourceElement;
    if (source && source.closest && source.closest("[data-confirm-leave-release]")) return;
    var replacesPage = ctx.target === document.body || (ctx.request && ctx.request.headers && ctx.request.headers["HX-Boosted"]);
    if (replacesPage && !mayLeave()) event.preventDefault();
  });
})();
