// django-textlink's conversation page: show the latest messages (the end of the thread),
// as chat apps do; the thread scrolls up to older ones.
(function () {
  "use strict";
  var thread = document.getElementById("textlink-thread");
  if (thread) { thread.scrollTop = thread.scrollHeight; }
})();
