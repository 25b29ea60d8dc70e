// The desk's progressive enhancement: the queue follows new tickets without a reload, and the
// share text has a copy button. Without this file every page still works.
(function () {
  "use strict";

  function followQueue() {
    var rows = document.getElementById("queue-rows");
    if (!rows || !rows.dataset.live) {
      return;
    }
    var counts = document.getElementById("counts");
    var status = document.getElementById("live-status");
    var every = parseInt(rows.dataset.every || "3000", 10);

    function apply(html) {
      var fresh = new DOMParser().parseFromString(html, "text/html");
      var newRows = fresh.getElementById("queue-rows");
      var newCounts = fresh.getElementById("counts");
      if (newRows && newRows.innerHTML !== rows.innerHTML) {
        // Keep the keyboard where it was: the focused ticket's link, found again by number.
        var focused = document.activeElement;
        var row = focused && rows.contains(focused) ? focused.closest("tr") : null;
        var number = row ? row.dataset.number : null;
        var before = rows.querySelectorAll("tr[data-number]").length;
        rows.innerHTML = newRows.innerHTML;
        if (number) {
          var again = rows.querySelector('tr[data-number="' + number + '"] a');
          if (again) {
            again.focus();
          }
        }
        var after = rows.querySelectorAll("tr[data-number]").length;
        status.textContent = after > before ? "New tickets in the queue" : "Queue updated";
      }
      if (counts && newCounts && newCounts.innerHTML !== counts.innerHTML) {
        counts.innerHTML = newCounts.innerHTML;
      }
    }

    function poll() {
      fetch(rows.dataset.live, { credentials: "same-origin", headers: { Accept: "text/html" } })
        .then(function (response) {
          if (response.status === 401) {
            window.location.assign("/desk/login");
            return null;
          }
          return response.ok ? response.text() : null;
        })
        .then(function (html) {
          if (html) {
            apply(html);
          }
        })
        .catch(function () {})
        .then(function () {
          window.setTimeout(poll, every);
        });
    }

    window.setTimeout(poll, every);
  }

  function copyButton() {
    var button = document.getElementById("copy-share");
    var text = document.getElementById("share-text");
    var said = document.getElementById("copy-status");
    if (!button || !text) {
      return;
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      var done = function () {
        said.textContent = "Share text copied";
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text.value).then(done, function () {
          text.select();
          said.textContent = "Press Ctrl+C to copy the selected text";
        });
      } else {
        text.select();
        said.textContent = document.execCommand("copy")
          ? "Share text copied"
          : "Press Ctrl+C to copy the selected text";
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    followQueue();
    copyButton();
  });
})();
