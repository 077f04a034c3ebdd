// ppstudy's driver for imagetracerjs (https://github.com/jankovicsandras/imagetracerjs).
//
// One function, ppstudyTrace(width, height, rgbaLatin1, optionsJSON), shared by both engines:
//  * mini-racer (V8 inside Python) evaluates imagetracerjs, then this file, and calls the function;
//  * Node runs this file as a long-lived process: `node imagetracer_driver.js <imagetracer_v1.2.6.js>`,
//    reading framed requests on stdin and writing framed SVG strings on stdout, so that a batch of images
//    costs one process, not one per image.
// The pixels travel as a string whose character codes are the RGBA bytes (what mini-racer can pass).
//
// Node framing (little endian): request = uint32 n, n bytes of JSON {"w", "h", "o"}, then w*h*4 RGBA bytes;
// response = uint8 status (0: SVG, 1: error message), uint32 n, n bytes of UTF-8.
"use strict";

var ppstudyTracer = (typeof ImageTracer !== "undefined") ? ImageTracer : null;

function ppstudyOptions(optionsJSON) {
  // a fresh object per call: imagetracerjs fills missing options into the object it is given
  var o = JSON.parse(optionsJSON);
  return (typeof o === "string") ? JSON.parse(JSON.stringify(ppstudyTracer.optionpresets[o] || {})) : o;
}

function ppstudyTraceData(width, height, data, optionsJSON) {
  return ppstudyTracer.imagedataToSVG({ width: width, height: height, data: data }, ppstudyOptions(optionsJSON));
}

function ppstudyTrace(width, height, rgbaLatin1, optionsJSON) {
  var n = width * height * 4, data = new Uint8ClampedArray(n);
  if (rgbaLatin1.length !== n) { throw new Error("expected " + n + " RGBA bytes, got " + rgbaLatin1.length); }
  for (var i = 0; i < n; i++) { data[i] = rgbaLatin1.charCodeAt(i); }
  return ppstudyTraceData(width, height, data, optionsJSON);
}

if (typeof require !== "undefined" && typeof module !== "undefined" && require.main === module) {
  ppstudyTracer = require(process.argv[2]);
  var chunks = [], have = 0;
  var take = function (k) {  // the first k buffered bytes as one Buffer
    var all = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, have);
    chunks = all.length > k ? [all.subarray(k)] : [];
    have -= k;
    return all.subarray(0, k);
  };
  var peek = function (k) {
    if (chunks.length > 1) { chunks = [Buffer.concat(chunks, have)]; }
    return chunks[0].subarray(0, k);
  };
  var reply = function (status, text) {
    var body = Buffer.from(text, "utf8"), head = Buffer.alloc(5);
    head.writeUInt8(status, 0);
    head.writeUInt32LE(body.length, 1);
    process.stdout.write(Buffer.concat([head, body]));
  };
  var pending = null;  // parsed header of the request whose pixels are awaited
  process.stdin.on("data", function (chunk) {
    chunks.push(chunk);
    have += chunk.length;
    for (;;) {
      if (pending === null) {
        if (have < 4) { return; }
        var hl = peek(4).readUInt32LE(0);
        if (have < 4 + hl) { return; }
        take(4);
        pending = JSON.parse(take(hl).toString("utf8"));
      }
      var need = pending.w * pending.h * 4;
      if (have < need) { return; }
      var px = take(need), req = pending;
      pending = null;
      try {
        var data = new Uint8ClampedArray(px.buffer.slice(px.byteOffset, px.byteOffset + need));
        reply(0, ppstudyTraceData(req.w, req.h, data, JSON.stringify(req.o)));
      } catch (e) {
        reply(1, String(e && e.stack || e));
      }
    }
  });
  process.stdin.on("end", function () { process.exit(0); });
}
