// The live leads board: a new lead, or one moved elsewhere (by a flow, a teammate, or the
// customer accepting a quote), reloads the board. It follows the tenant's event stream from
// the position the page was rendered at, so nothing falls between render and connect. A
// "Move to" menu someone has open is left alone until it closes.
(function () {
  "use strict";
  var board = document.getElementById("lead-board");
  if (!board || !window.EventSource) { return; }
  var pending = false;

  function busy() {
    return board.querySelector("details[open]") !== null;
  }

  function reloadSoon() {
    if (pending) { return; }
    pending = true;
    var tick = function () {
      if (busy()) { setTimeout(tick, 1000); return; }
      window.location.reload();
    };
    setTimeout(tick, 300);
  }

  function isLeadEvent(data) {
    return data.type === "lead.created" || data.type === "lead.stage_changed";
  }

  // The board already shows it (this tab made the change): nothing to fetch.
  function shown(data) {
    var stage = data.type === "lead.created" ? "new" : data.to_stage;
    var cards = board.querySelectorAll("[data-lead-id]");
    for (var i = 0; i < cards.length; i++) {
      if (cards[i].getAttribute("data-lead-id") === data.lead_id) {
        return cards[i].getAttribute("data-stage") === stage;
      }
    }
    return false;
  }

  function connect() {
    var last = board.getAttribute("data-last-event-id") || "";
    var url = "/inbox/events" + (last ? "?last_event_id=" + encodeURIComponent(last) : "");
    var source = new EventSource(url);
    source.onmessage = function (event) {
      if (event.lastEventId) { board.setAttribute("data-last-event-id", event.lastEventId); }
      var data;
      try { data = JSON.parse(event.data); } catch (e) { return; }
      if (data.type === "resync" || (isLeadEvent(data) && !shown(data))) { reloadSoon(); }
    };
    source.onerror = function () {
      if (source.readyState === EventSource.CLOSED) { setTimeout(connect, 5000); }
    };
  }
  connect();
})();
