/* django-textlink: the fraud guard's proof-of-work challenge, solved in the browser.
 *
 * For each [data-textlink-proof-of-work] element (django_textlink/challenge/proof_of_work.html),
 * find a decimal `solution` such that SHA-256 of "<token>:<solution>" starts with `difficulty`
 * zero bits, put it in the form's challenge_solution field and submit the form. The work is
 * done in slices, so the page stays responsive. SHA-256 is computed here (not with
 * crypto.subtle, which needs a secure context and costs a promise per hash); the prefix's
 * complete 64-byte blocks are hashed once.
 */
(function () {
  "use strict";

  var K = new Uint32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
  ]);
  var INITIAL = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
  var W = new Uint32Array(64);

  function rotr(x, n) { return (x >>> n) | (x << (32 - n)); }

  // One 64-byte block (bytes[offset..offset+63]) into state h (8 words), in place.
  function block(h, bytes, offset) {
    var i, a, b, c, d, e, f, g, k, t1, t2;
    for (i = 0; i < 16; i++) {
      var j = offset + i * 4;
      W[i] = (bytes[j] << 24) | (bytes[j + 1] << 16) | (bytes[j + 2] << 8) | bytes[j + 3];
    }
    for (i = 16; i < 64; i++) {
      var s0 = rotr(W[i - 15], 7) ^ rotr(W[i - 15], 18) ^ (W[i - 15] >>> 3);
      var s1 = rotr(W[i - 2], 17) ^ rotr(W[i - 2], 19) ^ (W[i - 2] >>> 10);
      W[i] = (W[i - 16] + s0 + W[i - 7] + s1) | 0;
    }
    a = h[0]; b = h[1]; c = h[2]; d = h[3]; e = h[4]; f = h[5]; g = h[6]; k = h[7];
    for (i = 0; i < 64; i++) {
      t1 = (k + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + W[i]) | 0;
      t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      k = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
    }
    h[0] = (h[0] + a) | 0; h[1] = (h[1] + b) | 0; h[2] = (h[2] + c) | 0; h[3] = (h[3] + d) | 0;
    h[4] = (h[4] + e) | 0; h[5] = (h[5] + f) | 0; h[6] = (h[6] + g) | 0; h[7] = (h[7] + k) | 0;
  }

  function ascii(text) {
    var bytes = new Uint8Array(text.length);
    for (var i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i) & 0xff;
    return bytes;
  }

  // A hasher of prefix + suffix for many suffixes: the prefix's whole blocks are done once.
  function prefixHasher(prefix) {
    var bytes = ascii(prefix);
    var whole = bytes.length - (bytes.length % 64);
    var mid = INITIAL.slice();
    for (var off = 0; off < whole; off += 64) block(mid, bytes, off);
    var rest = bytes.subarray(whole);
    var tail = new Uint8Array(192);
    var h = new Array(8);
    return function (suffix) {
      var n = rest.length, i;
      tail.fill(0);
      tail.set(rest, 0);
      for (i = 0; i < suffix.length; i++) tail[n + i] = suffix.charCodeAt(i);
      n += suffix.length;
      tail[n] = 0x80;
      var total = bytes.length + suffix.length;
      var blocks = n + 9 <= 64 ? 1 : (n + 9 <= 128 ? 2 : 3);
      var end = blocks * 64;
      var bits = total * 8;
      tail[end - 4] = (bits >>> 24) & 0xff; tail[end - 3] = (bits >>> 16) & 0xff;
      tail[end - 2] = (bits >>> 8) & 0xff; tail[end - 1] = bits & 0xff;
      for (i = 0; i < 8; i++) h[i] = mid[i];
      for (i = 0; i < blocks; i++) block(h, tail, i * 64);
      return h;
    };
  }

  function leadingZeroBits(h) {
    var bits = 0;
    for (var i = 0; i < 8; i++) {
      var word = h[i] >>> 0;
      if (word === 0) { bits += 32; continue; }
      return bits + Math.clz32(word);
    }
    return bits;
  }

  function solve(token, difficulty, done) {
    var hash = prefixHasher(token + ":");
    var counter = 0;
    function slice() {
      var stop = counter + 20000;
      for (; counter < stop; counter++) {
        if (leadingZeroBits(hash(String(counter))) >= difficulty) {
          done(String(counter));
          return;
        }
      }
      setTimeout(slice, 0);
    }
    slice();
  }

  function start(element) {
    var form = element.closest("form");
    var field = element.querySelector('input[name="challenge_solution"]');
    var status = element.querySelector(".textlink-challenge-status");
    if (!form || !field) return;
    var difficulty = parseInt(element.getAttribute("data-difficulty"), 10) || 0;
    solve(element.getAttribute("data-token") || "", difficulty, function (solution) {
      field.value = solution;
      if (status && status.getAttribute("data-solved-text")) {
        status.textContent = status.getAttribute("data-solved-text");
      }
      form.submit();
    });
  }

  window.textlinkProofOfWork = { solve: solve };
  function startAll() {
    document.querySelectorAll("[data-textlink-proof-of-work]").forEach(start);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", startAll);
  } else {
    startAll();
  }
})();
