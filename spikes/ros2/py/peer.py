"""rclpy peer for the Rust spike node.

* publishes std_msgs/String on /chatter (every 0.5 s)
* subscribes /chatter_from_rust
* serves std_srvs/SetBool on /set_flag
* calls std_srvs/Trigger on /rust_trigger
* introspects the graph (get_topic_names_and_types etc.) every 2 s

Exits 0 when all four things were seen (+ LINGER_SECS), 1 after RUN_SECS.
"""
import os, sys, time
import rclpy
from std_msgs.msg import String
from std_srvs.srv import SetBool, Trigger

def main():
    run = float(os.environ.get("RUN_SECS", "50"))
    linger = float(os.environ.get("LINGER_SECS", "8"))
    rclpy.init()
    node = rclpy.create_node("py_peer")
    t0 = time.monotonic()
    # SPIKE_T0 (unix epoch seconds, set by run.sh) gives both sides one time base.
    epoch0 = float(os.environ.get("SPIKE_T0", time.time()))
    el = lambda: f"[py   +{time.time()-epoch0:6.2f}s]"
    print(f"{el()} rclpy node py_peer up", flush=True)
    state = dict(heard=0, served=0, trig_resp=None, graph=None, first_heard=None)

    pub = node.create_publisher(String, "chatter", 10)
    n = [0]
    def tick():
        n[0] += 1
        pub.publish(String(data=f"hello from rclpy #{n[0]}"))
    node.create_timer(0.5, tick)

    def on_msg(msg):
        state["heard"] += 1
        if state["heard"] == 1:
            state["first_heard"] = round(time.time() - epoch0, 2)
        if state["heard"] <= 3:
            print(f"{el()} PY HEARD on /chatter_from_rust: {msg.data!r}", flush=True)
    node.create_subscription(String, "chatter_from_rust", on_msg, 10)

    def on_setbool(req, resp):
        state["served"] += 1
        print(f"{el()} PY SERVED SetBool request data={req.data}", flush=True)
        resp.success = True
        resp.message = f"rclpy set flag to {req.data}"
        return resp
    node.create_service(SetBool, "set_flag", on_setbool)

    cli = node.create_client(Trigger, "rust_trigger")
    fut = [None]
    last_call = [0.0]

    def graph():
        topics = node.get_topic_names_and_types()
        nodes = node.get_node_names_and_namespaces()
        srvs = node.get_service_names_and_types()
        return topics, nodes, srvs

    last_graph = [0.0]
    done_at = None
    while time.monotonic() - t0 < run:
        rclpy.spin_once(node, timeout_sec=0.05)
        now = time.monotonic()
        # Trigger client
        if state["trig_resp"] is None:
            if fut[0] is not None and fut[0].done():
                r = fut[0].result()
                state["trig_resp"] = r
                print(f"{el()} PY GOT Trigger response: success={r.success} message={r.message!r}", flush=True)
            elif (fut[0] is None or now - last_call[0] > 3.0) and cli.service_is_ready():
                if fut[0] is not None:
                    print(f"{el()} Trigger call timed out, retrying", flush=True)
                else:
                    print(f"{el()} /rust_trigger service is ready", flush=True)
                fut[0] = cli.call_async(Trigger.Request())
                last_call[0] = now
        # Graph introspection
        if state["graph"] is None and now - last_graph[0] > 2.0:
            last_graph[0] = now
            topics, nodes, srvs = graph()
            tdict = dict(topics)
            if "/chatter_from_rust" in tdict and any(n_ == "rust_spike_node" for n_, _ in nodes):
                state["graph"] = (topics, nodes, srvs)
                print(f"{el()} PY GRAPH sees rust: /chatter_from_rust types={tdict['/chatter_from_rust']}", flush=True)
                print(f"{el()}   topics={topics}", flush=True)
                print(f"{el()}   nodes={nodes}", flush=True)
                print(f"{el()}   services={[s for s in srvs if 'rust' in s[0] or 'set_flag' in s[0]]}", flush=True)
                try:
                    print(f"{el()}   publishers on /chatter_from_rust: "
                          f"{[(i.node_name, i.node_namespace, i.topic_type, str(i.qos_profile.reliability), str(i.qos_profile.durability)) for i in node.get_publishers_info_by_topic('/chatter_from_rust')]}", flush=True)
                except Exception as e:  # noqa
                    print(f"{el()}   get_publishers_info_by_topic failed: {e}", flush=True)
        all_ok = state["heard"] > 0 and state["served"] > 0 and state["trig_resp"] is not None and state["graph"] is not None
        if all_ok and done_at is None:
            done_at = now
            print(f"{el()} all goals reached; lingering {linger}s", flush=True)
        if done_at is not None and now - done_at > linger:
            break

    if state["graph"] is None:
        topics, nodes, srvs = graph()
        print(f"{el()} PY GRAPH (final, rust not fully seen): topics={topics} nodes={nodes}", flush=True)
    ok = lambda b: "OK" if b else "FAIL"
    print(f"{el()} PY SUMMARY: rust->rclpy topic msgs={state['heard']} ({ok(state['heard']>0)}, first at +{state['first_heard']}s), "
          f"rust->rclpy SetBool served={state['served']} ({ok(state['served']>0)}), "
          f"rclpy->rust Trigger ({ok(state['trig_resp'] is not None)}), "
          f"introspection sees rust topic+node ({ok(state['graph'] is not None)}); published {n[0]} on /chatter", flush=True)
    node.destroy_node(); rclpy.shutdown()
    sys.exit(0 if (state['heard'] > 0 and state['served'] > 0 and state['trig_resp'] is not None and state['graph'] is not None) else 1)

if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
