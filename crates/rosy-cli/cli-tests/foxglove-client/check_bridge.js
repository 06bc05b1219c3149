// A real Foxglove WebSocket client (@foxglove/ws-protocol, over the `ws` package) against
// `rosy foxglove`. Driven by cli-tests/foxglove.rs: usage `node check_bridge.js ws://HOST:PORT`.
//
// It prints one line per check it passes, then "done", and exits 0; it exits 1 naming the
// checks still missing after 20 s, or at the first wrong answer.
"use strict";

const { FoxgloveClient } = require("@foxglove/ws-protocol");
const WebSocket = require("ws");

const url = process.argv[2];
const pending = new Set(["advertised", "received", "service", "image", "graph", "published"]);
const ws = new WebSocket(url, [FoxgloveClient.SUPPORTED_SUBPROTOCOL, "foxglove.sdk.v1"]);
const client = new FoxgloveClient({ ws });
const channels = new Map();
const subscriptions = new Map();
const decoder = new TextDecoder();

function pass(check, line) {
  if (pending.delete(check)) {
    console.log(line);
  }
  if (pending.size === 0) {
    console.log("done");
    client.close();
    process.exit(0);
  }
}

function fail(why) {
  console.error(why);
  process.exit(1);
}

setTimeout(() => fail(`missing after 20 s: ${[...pending].join(", ")}`), 20000);

client.on("error", (e) => fail(`client error: ${e && e.message}`));
client.on("close", () => fail(`connection closed with ${[...pending].join(", ")} left`));

client.on("serverInfo", (info) => {
  console.log(`server ${info.name} capabilities ${info.capabilities.join(",")}`);
  client.subscribeConnectionGraph();
  // Client publish: a channel of our own, JSON messages a Rust listener decodes.
  const id = client.advertise({ topic: "from-foxglove", encoding: "json", schemaName: "" });
  let sent = 0;
  const timer = setInterval(() => {
    client.sendMessage(id, new TextEncoder().encode(JSON.stringify(["from", "foxglove"])));
    if (++sent === 20) {
      clearInterval(timer);
      pass("published", "published 20 messages on from-foxglove");
    }
  }, 100);
});

client.on("advertise", (list) => {
  for (const ch of list) {
    channels.set(ch.id, ch);
    if (ch.topic === "some-topic") {
      if (ch.encoding !== "json") fail(`some-topic advertised with encoding ${ch.encoding}`);
      console.log(`advertised some-topic ${ch.encoding}`);
      pending.delete("advertised");
      subscriptions.set(client.subscribe(ch.id), ch);
    }
    if (ch.topic === "camera/image") {
      subscriptions.set(client.subscribe(ch.id), ch);
      if (ch.schemaName === "foxglove.RawImage") {
        console.log(
          `image channel camera/image ${ch.schemaName} ${ch.encoding} ${ch.schemaEncoding}`,
        );
      }
    }
  }
});

// The fields of a protobuf message (wire format by hand: no protobuf package here), by field
// number: varints and fixed32 as numbers, length-delimited fields as byte arrays.
function protobufFields(bytes) {
  const fields = new Map();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const varint = () => {
    let value = 0;
    for (let shift = 0; ; shift += 7) {
      if (at >= bytes.length) fail(`a protobuf varint runs past the message's end`);
      const b = bytes[at++];
      value += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return value;
    }
  };
  while (at < bytes.length) {
    const key = varint();
    const [field, wire] = [Math.floor(key / 8), key % 8];
    let value;
    if (wire === 0) value = varint();
    else if (wire === 5) (value = view.getUint32(at, true)), (at += 4);
    else if (wire === 1) (value = view.getFloat64(at, true)), (at += 8);
    else if (wire === 2) {
      const len = varint();
      value = bytes.subarray(at, at + len);
      at += len;
    } else fail(`protobuf wire type ${wire} in field ${field}`);
    if (at > bytes.length) fail(`protobuf field ${field} runs past the message's end`);
    fields.set(field, value);
  }
  return fields;
}

// A foxglove.RawImage (foxglove/schemas RawImage.proto: timestamp 1, width 2, height 3,
// encoding 4, step 5, data 6, frame_id 7).
function rawImage(bytes) {
  const f = protobufFields(bytes);
  const stamp = protobufFields(f.get(1) || new Uint8Array());
  return {
    timestamp: { sec: stamp.get(1) || 0, nsec: stamp.get(2) || 0 },
    width: f.get(2),
    height: f.get(3),
    encoding: decoder.decode(f.get(4)),
    step: f.get(5),
    data: f.get(6) || new Uint8Array(),
    frame_id: decoder.decode(f.get(7)),
  };
}

client.on("message", ({ subscriptionId, data }) => {
  const ch = subscriptions.get(subscriptionId);
  if (!ch) return;
  if (ch.topic === "camera/image" && ch.schemaName === "foxglove.RawImage") {
    if (ch.encoding !== "protobuf") fail(`camera/image advertised as ${ch.encoding}`);
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const image = rawImage(bytes);
    const pixels = image.data;
    if (pixels.length !== image.step * image.height) {
      fail(`an image of ${pixels.length} bytes for step ${image.step} x height ${image.height}`);
    }
    // The pixels as bytes, not base64 (4/3 of them): a few dozen bytes of fields around them.
    if (bytes.length > pixels.length + 64) {
      fail(`a ${bytes.length}-byte message for ${pixels.length} bytes of pixels`);
    }
    // The camera sends mono8 frames of one value each; a stamp of this century.
    if (pixels.some((p) => p !== pixels[0])) fail(`an image's pixels are not one value`);
    if (image.frame_id !== "camera") fail(`an image in frame ${image.frame_id}`);
    if (image.timestamp.sec < 1.6e9) fail(`an image stamped ${JSON.stringify(image.timestamp)}`);
    pass(
      "image",
      `image ${image.width}x${image.height} ${image.encoding} ${pixels.length} bytes ` +
        `in protobuf (${bytes.length} bytes)`,
    );
    return;
  }
  const value = JSON.parse(decoder.decode(data));
  if (ch.topic === "some-topic") {
    if (JSON.stringify(value) !== JSON.stringify(["hello", "world"])) {
      fail(`some-topic brought ${JSON.stringify(value)}`);
    }
    pass("received", `received some-topic ${JSON.stringify(value)}`);
  }
});

client.on("advertiseServices", (services) => {
  for (const s of services) {
    if (s.name === "multiply") {
      client.sendServiceCallRequest({
        serviceId: s.id,
        callId: 1,
        encoding: "json",
        data: new TextEncoder().encode("[2, 2]"),
      });
    }
  }
});

client.on("serviceCallResponse", (response) => {
  const value = JSON.parse(decoder.decode(response.data));
  if (value !== 4) fail(`multiply [2, 2] answered ${JSON.stringify(value)}`);
  pass("service", `multiply [2, 2] = ${value}`);
});

client.on("serviceCallFailure", (failure) => fail(`service call failed: ${failure.message}`));

// Updates carry what changed: the graph is their sum.
const graphTopics = new Set();
const graphServices = new Set();
client.on("connectionGraphUpdate", (update) => {
  update.publishedTopics.forEach((t) => graphTopics.add(t.name));
  update.advertisedServices.forEach((s) => graphServices.add(s.name));
  (update.removedTopics || []).forEach((t) => graphTopics.delete(t));
  (update.removedServices || []).forEach((s) => graphServices.delete(s));
  if (graphTopics.has("camera/image") && graphServices.has("multiply")) {
    pass("graph", `graph publishes camera/image, provides multiply`);
  }
});
