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
        console.log(`image channel camera/image ${ch.schemaName} ${ch.schemaEncoding}`);
      }
    }
  }
});

client.on("message", ({ subscriptionId, data }) => {
  const ch = subscriptions.get(subscriptionId);
  if (!ch) return;
  const value = JSON.parse(decoder.decode(data));
  if (ch.topic === "some-topic") {
    if (JSON.stringify(value) !== JSON.stringify(["hello", "world"])) {
      fail(`some-topic brought ${JSON.stringify(value)}`);
    }
    pass("received", `received some-topic ${JSON.stringify(value)}`);
  }
  if (ch.topic === "camera/image" && ch.schemaName === "foxglove.RawImage") {
    const pixels = Buffer.from(value.data, "base64");
    if (pixels.length !== value.step * value.height) {
      fail(`an image of ${pixels.length} bytes for step ${value.step} x height ${value.height}`);
    }
    pass("image", `image ${value.width}x${value.height} ${value.encoding} ${pixels.length} bytes`);
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
