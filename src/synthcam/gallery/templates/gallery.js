(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var rows = Array.prototype.slice.call(document.querySelectorAll("section.row"));
  var fields = { id: $("f-id"), state: $("f-state"), series: $("f-series"), kind: $("f-kind") };
  var shown = $("shown"), empty = $("empty");

  function words(text) { return text ? text.split(" ") : []; }

  function cellMatches(cell, state, kind) {
    if (state && cell.dataset.state !== state) return false;
    if (!kind) return true;
    var kinds = words(cell.dataset.kinds);
    return kind === "*" ? kinds.length > 0 : kinds.indexOf(kind) >= 0;
  }

  // A row shows when its ID and series match and at least one of its cells matches the
  // status and finding filters; the cells that do not match are dimmed.
  function apply(save) {
    var id = fields.id.value.trim().toLowerCase();
    var state = fields.state.value, series = fields.series.value, kind = fields.kind.value;
    var n = 0;
    rows.forEach(function (row) {
      var any = false;
      row.querySelectorAll(".cell[data-state]").forEach(function (cell) {
        var ok = cellMatches(cell, state, kind);
        cell.classList.toggle("dim", !ok);
        any = any || ok;
      });
      var visible = any && (!series || row.dataset.series === series) &&
        (!id || row.dataset.id.toLowerCase().indexOf(id) >= 0);
      row.hidden = !visible;
      if (visible) n += 1;
    });
    shown.textContent = n + " of " + rows.length + " IDs";
    empty.hidden = n > 0;
    if (save) saveHash();
  }

  function saveHash() {
    var params = new URLSearchParams();
    Object.keys(fields).forEach(function (key) {
      var value = fields[key].value.trim();
      if (value) params.set(key, value);
    });
    var hash = params.toString();
    try {
      history.replaceState(null, "", hash ? "#" + hash : location.pathname + location.search);
    } catch (e) { /* some file:// setups refuse; the filters still work */ }
  }

  function loadHash() {
    var params = new URLSearchParams(location.hash.slice(1));
    Object.keys(fields).forEach(function (key) {
      var value = params.get(key);
      if (value === null) return;
      var field = fields[key];
      if (field.tagName === "SELECT" && !field.querySelector('option[value="' + CSS.escape(value) + '"]')) return;
      field.value = value;
    });
  }

  // No <video> exists until its poster is clicked, so a page of hundreds of clips loads none.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button.play");
    if (!button) return;
    var template = button.parentElement.querySelector("template");
    var video = template.content.firstElementChild.cloneNode(true);
    button.replaceWith(video);
    var playing = video.play();
    if (playing) playing.catch(function () { /* the controls stay; the user can press play */ });
  });

  $("filters").addEventListener("submit", function (event) { event.preventDefault(); });
  Object.keys(fields).forEach(function (key) {
    fields[key].addEventListener(key === "id" ? "input" : "change", function () { apply(true); });
  });
  loadHash();
  apply(false);
})();
