// Measures what a Foxglove client receives from `rosy foxglove`: subscribes to TOPIC and counts
// messages and bytes for SECONDS (after the first message), without parsing them (a browser
// would decode images on its own thread). Usage: node measure_bridge.js URL TOPIC SECONDS
// Prints one JSON line: {"messages", "seconds", "fps", "mb_per_s", "gaps_ms_max"}.
// With a 5th argument `stall`, it subscribes, then stops reading its socket after the first
// message (a frozen browser tab), stays connected for SECONDS and prints {"stalled": SECONDS}.
"use strict";

const { FoxgloveClient } = require("@foxglove/ws-protocol");
const WebSocket = require("ws");

const [url, topic, seconds] = [process.argv[2], process.argv[3], Number(process.argv[4] || 10)];
const stall = process.argv[5] === "stall";
const ws = new WebSocket(url, [FoxgloveClient.SUPPORTED_SUBPROTOCOL, "foxglove.sdk.v1"]);
const client = new FoxgloveClient({ ws });
let first = null;
let last = null;
let count = 0;
let bytes = 0;
let maxGap = 0;

setTimeout(() => {
  console.error(`no message on ${topic} within ${seconds + 20} s`);
  process.exit(1);
}, (seconds + 20) * 1000);

client.on("advertise", (list) => {
  for (const ch of list) {
    if (ch.topic === topic) client.subscribe(ch.id);
  }
});

client.on("message", ({ data }) => {
  const now = process.hrtime.bigint();
  if (stall) {
    if (first === null) {
      first = now;
      ws._socket.pause();
      setTimeout(() => {
        console.log(JSON.stringify({ stalled: seconds }));
        process.exit(0);
      }, seconds * 1000);
    }
    return;
  }
  if (first === null) {
    first = now;
    setTimeout(() => {
      const span = Number(last - first) / 1e9;
      console.log(JSON.stringify({
        messages: count - 1,
        seconds: span,
        fps: (count - 1) / span,
        mb_per_s: bytes / span / 1e6,
        gaps_ms_max: maxGap,
      }));
      process.exit(0);
    }, seconds * 1000);
  } else {
    bytes += data.byteLength;
    maxGap = Math.max(maxGap, Number(now - last) / 1e6);
  }
  count += 1;
  last = now;
});
