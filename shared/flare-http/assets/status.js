// Flare's status page, enhanced. The server-rendered page works without this script; it adds:
// - one tab stop per 90-day strip (a roving tabindex): Left/Right move a day, Home/End jump to the first and
//   the last; Enter opens the focused day, which is a link;
// - Escape hides an incident's tooltip until the pointer or focus leaves it;
// - a refresh every 60 s that costs a bodiless 304 when nothing changed: the request carries the shown page's
//   ETag in If-None-Match; on 200 the new <main> replaces the old one and focus stays where it was.
(function () {
  'use strict';

  var REFRESH_MS = 60 * 1000;

  function cells(strip) {
    return Array.prototype.slice.call(strip.querySelectorAll('a'));
  }

  // Only one cell of a strip is in the tab order: the one last focused, or today's.
  function initStrip(strip) {
    var all = cells(strip);
    var current = all.filter(function (a) { return a.getAttribute('tabindex') === '0'; })[0] || all[all.length - 1];
    all.forEach(function (a) { a.setAttribute('tabindex', a === current ? '0' : '-1'); });
  }

  function initStrips(root) {
    Array.prototype.forEach.call(root.querySelectorAll('[data-strip]'), initStrip);
  }

  function onStripKey(event) {
    var strip = event.target.closest && event.target.closest('[data-strip]');
    if (!strip || event.altKey || event.ctrlKey || event.metaKey) { return; }
    var all = cells(strip);
    var at = all.indexOf(event.target);
    if (at < 0) { return; }
    var to;
    switch (event.key) {
      case 'ArrowLeft': to = Math.max(0, at - 1); break;
      case 'ArrowRight': to = Math.min(all.length - 1, at + 1); break;
      case 'Home': to = 0; break;
      case 'End': to = all.length - 1; break;
      default: return;
    }
    event.preventDefault();
    all[at].setAttribute('tabindex', '-1');
    all[to].setAttribute('tabindex', '0');
    all[to].focus();
  }

  // WCAG 1.4.13: content shown on hover or focus can be dismissed without moving either.
  function onEscape(event) {
    if (event.key !== 'Escape') { return; }
    var bar = event.target.closest && event.target.closest('.bar');
    if (bar) { bar.classList.add('tip-dismissed'); }
  }

  function undismiss(event) {
    var bar = event.target.closest && event.target.closest('.bar');
    if (bar && !bar.contains(event.relatedTarget)) { bar.classList.remove('tip-dismissed'); }
  }

  // What identifies a focusable element across a refresh: its id, else its link and what it describes (the
  // same incident has a bar in each of its systems' lanes), else its form name.
  function keyOf(el) {
    if (el.id) { return '#' + el.id; }
    var href = el.getAttribute('href');
    if (href) { return href + '|' + (el.getAttribute('aria-describedby') || ''); }
    return el.getAttribute('name') ? 'name=' + el.getAttribute('name') : null;
  }

  function find(root, key) {
    var found = null;
    Array.prototype.some.call(root.querySelectorAll('a[href], button, input, select, textarea, [id]'), function (el) {
      if (keyOf(el) === key) { found = el; return true; }
      return false;
    });
    return found;
  }

  function etag() {
    var meta = document.querySelector('meta[name="flare-etag"]');
    return meta ? meta.getAttribute('content') : '';
  }

  function swap(html) {
    var next = new DOMParser().parseFromString(html, 'text/html');
    var main = document.querySelector('main');
    var fresh = next.querySelector('main');
    if (!main || !fresh) { return; }
    var focused = document.activeElement;
    var key = focused && main.contains(focused) ? keyOf(focused) : null;
    // A strip's tab stop stays on the day the reader chose.
    var stops = Array.prototype.map.call(main.querySelectorAll('[data-strip] a[tabindex="0"]'), keyOf);
    main.replaceChildren.apply(main, Array.prototype.slice.call(fresh.childNodes).map(function (n) {
      return document.adoptNode(n);
    }));
    stops.forEach(function (k) {
      var cell = find(main, k);
      if (cell) { cell.setAttribute('tabindex', '0'); }
    });
    initStrips(main);
    var meta = next.querySelector('meta[name="flare-etag"]');
    var mine = document.querySelector('meta[name="flare-etag"]');
    if (meta && mine) { mine.setAttribute('content', meta.getAttribute('content')); }
    if (key) {
      var again = find(main, key);
      if (again) {
        again.focus({ preventScroll: true });
      } else {
        // What had focus is gone: give it to the page's heading rather than losing it to <body>.
        var heading = main.querySelector('h1');
        if (heading) { heading.setAttribute('tabindex', '-1'); heading.focus({ preventScroll: true }); }
      }
    }
  }

  var busy = false;

  function refresh() {
    // Never while someone is choosing filters or reading a tooltip by keyboard, nor for a hidden tab.
    var active = document.activeElement;
    if (busy || document.hidden || (active && active.closest && active.closest('form, .bar'))) { return; }
    busy = true;
    var tag = etag();
    fetch(window.location.href, {
      headers: tag ? { 'If-None-Match': '"' + tag + '"' } : {},
      cache: 'no-store',
      credentials: 'same-origin'
    }).then(function (response) {
      if (response.status === 200) {
        return response.text().then(swap);
      }
      return null;
    }).catch(function () {
      // Offline or the server restarting: the page shown stays, and the next tick tries again.
    }).then(function () {
      busy = false;
    });
  }

  function start() {
    initStrips(document);
    document.addEventListener('keydown', onStripKey);
    document.addEventListener('keydown', onEscape);
    document.addEventListener('focusout', undismiss);
    document.addEventListener('mouseout', undismiss);
    window.setInterval(refresh, REFRESH_MS);
    document.addEventListener('visibilitychange', function () {
      if (!document.hidden) { refresh(); }
    });
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
}());
