// Live SMS counter for django-textlink's "send an SMS" admin page: the encoding (GSM-7 or
// UCS-2), the size and the number of SMS parts of the text as it is typed. It mirrors
// django_textlink/encoding.py (keep the two in step); without JavaScript the server
// renders the same counter for the text it last received ("Check the length").
(function () {
  "use strict";

  var GSM7_BASIC = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  var GSM7_EXTENSION = "\f^{}\\[~]|€";
  var LIMITS = { "GSM-7": [160, 153], "UCS-2": [70, 67] };
  var basic = new Set(Array.from(GSM7_BASIC));
  var extension = new Set(Array.from(GSM7_EXTENSION));
  var invisible = /^[\p{C}\p{Z}]$/u;

  function displayChar(ch) {
    if (invisible.test(ch)) {
      return "U+" + ch.codePointAt(0).toString(16).toUpperCase().padStart(4, "0");
    }
    return ch;
  }

  // Same result as encoding.analyze(): encoding, characters (code points), units
  // (septets or UTF-16 code units), segments, per_segment, non_gsm_chars, remaining.
  function analyze(text) {
    var chars = Array.from(text);
    var nonGsm = [];
    chars.forEach(function (ch) {
      if (!basic.has(ch) && !extension.has(ch) && nonGsm.indexOf(ch) === -1) {
        nonGsm.push(ch);
      }
    });
    var encoding = nonGsm.length ? "UCS-2" : "GSM-7";
    var costs = chars.map(function (ch) {
      if (encoding === "UCS-2") { return ch.length; }  // 2 for a surrogate pair
      return extension.has(ch) ? 2 : 1;
    });
    var units = costs.reduce(function (a, b) { return a + b; }, 0);
    var single = LIMITS[encoding][0];
    var multi = LIMITS[encoding][1];
    var info = { encoding: encoding, characters: chars.length, units: units,
                 non_gsm_chars: nonGsm };
    if (units <= single) {
      info.segments = units ? 1 : 0;
      info.per_segment = single;
      info.remaining = single - units;
      return info;
    }
    var segments = 1;
    var used = 0;
    costs.forEach(function (cost) {
      if (used + cost > multi) {  // never split a character between two parts
        segments += 1;
        used = 0;
      }
      used += cost;
    });
    info.segments = segments;
    info.per_segment = multi;
    info.remaining = multi - used;
    return info;
  }

  function attach(textarea) {
    var counter = document.getElementById(textarea.getAttribute("data-sms-counter"));
    if (!counter) { return; }
    function part(name) { return counter.querySelector('[data-sms="' + name + '"]'); }
    var announce = part("announce");
    var last = null;

    function render() {
      // A textarea's value has "\n" line breaks; the server normalizes CR LF the same way.
      var info = analyze(textarea.value);
      var unicode = info.encoding === "UCS-2";
      part("encoding").textContent = info.encoding;
      part("unicode-note").hidden = !unicode;
      part("characters").textContent = String(info.characters);
      part("units").textContent = String(info.units);
      var unitName = part("unit-name");
      unitName.textContent = unitName.getAttribute(unicode ? "data-ucs" : "data-gsm");
      part("segments").textContent = String(info.segments);
      part("per_segment").textContent = String(info.per_segment);
      part("remaining").textContent = String(info.remaining);
      part("non-gsm-row").hidden = !info.non_gsm_chars.length;
      part("non_gsm_chars").textContent = info.non_gsm_chars.map(displayChar).join(" ");
      // Announce only a change of encoding or of the number of parts, not every key.
      var key = info.encoding + "/" + info.segments;
      if (announce && last !== null && key !== last) {
        // The server's ngettext: "1 SMS part", "2 SMS parts".
        var template = announce.getAttribute(
          info.segments === 1 ? "data-template-one" : "data-template-other") || "";
        announce.textContent = template
          .replace("%(encoding)s", info.encoding)
          .replace("%(segments)s", String(info.segments));
      }
      last = key;
    }

    textarea.addEventListener("input", render);
    render();

    // One submission per page: a double click on "Send" must not post twice (the server
    // refuses a second post of the same page too). Reset when the page is shown again
    // from the back-forward cache.
    var form = textarea.form;
    if (form) {
      form.addEventListener("submit", function (event) {
        if (form.getAttribute("data-submitted")) {
          event.preventDefault();
          return;
        }
        form.setAttribute("data-submitted", "1");
      });
      window.addEventListener("pageshow", function () { form.removeAttribute("data-submitted"); });
    }
  }

  window.djangoTextlinkSMS = { analyze: analyze, displayChar: displayChar };
  document.querySelectorAll("textarea[data-sms-counter]").forEach(attach);
})();
