// Progressive enhancement for the resend button of django-textlink's confirm page:
// disables it while the cooldown runs and counts down. Without JavaScript the button
// stays enabled and the server answers an early press with the remaining wait.
(function () {
  "use strict";
  var script = document.currentScript;
  var button = document.getElementById("resend-button");
  var status = document.getElementById("resend-countdown");
  if (!button || !status || !script) { return; }
  var remaining = parseInt(button.getAttribute("data-resend-in"), 10) || 0;
  var waitText = script.getAttribute("data-template-wait");
  var readyText = script.getAttribute("data-template-ready");
  function render() {
    // Announce only the end of the wait: a per-second announcement would be noise.
    status.setAttribute("aria-live", remaining > 0 ? "off" : "polite");
    if (remaining > 0) {
      button.disabled = true;
      status.textContent = waitText.replace("%(seconds)s", String(remaining));
    } else {
      button.disabled = false;
      status.textContent = readyText;
    }
  }
  render();
  if (remaining > 0) {
    var timer = window.setInterval(function () {
      remaining -= 1;
      render();
      if (remaining <= 0) { window.clearInterval(timer); }
    }, 1000);
  }
})();
