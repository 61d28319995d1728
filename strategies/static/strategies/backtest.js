// The backtest page: poll the status endpoint, move the progress bar, reload once finished.
(function () {
  "use strict";
  const box = document.getElementById("dsl-backtest");
  if (!box || box.dataset.finished === "true") {
    return;
  }
  const bar = document.getElementById("dsl-backtest-bar");
  const label = document.getElementById("dsl-backtest-label");
  const status = document.getElementById("dsl-backtest-status");
  const url = box.dataset.statusUrl;

  function show(report) {
    bar.value = report.progress;
    status.textContent = report.status;
    status.className = "dsl-status dsl-status-" + report.status;
    const total = report.eventsTotal === null ? "?" : report.eventsTotal.toLocaleString();
    label.textContent = Math.round(report.progress * 100) + " % (" +
      report.events.toLocaleString() + " of " + total + " events)";
  }

  function poll() {
    fetch(url, {headers: {Accept: "application/json"}, credentials: "same-origin"})
      .then(function (response) { return response.json(); })
      .then(function (report) {
        show(report);
        if (report.status === "done" || report.status === "failed") {
          window.location.reload();
        } else {
          window.setTimeout(poll, 1000);
        }
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }

  window.setTimeout(poll, 500);
})();
