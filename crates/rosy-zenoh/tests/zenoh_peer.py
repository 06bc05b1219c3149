"""Plain zenoh programs for rosy-zenoh's tests, on zenoh's own Python binding (eclipse-zenoh):
nothing of rosy here, only the key expressions and attachment the README documents.

    router ENDPOINT...               a zenoh router listening on the endpoints; prints "ready"
    sub KEY CONNECT                  prints one JSON line per sample: key, attachment, payload
    pub KEY CONNECT JSON COUNT       puts COUNT samples of JSON (application/json, no
                                     attachment), 0.1 s apart
    garbage KEY CONNECT COUNT        puts COUNT samples of garbage: an attachment that is not
                                     JSON, then one naming msgpack over bytes that are not
                                     msgpack, alternately
Each runs until stdin closes (router, sub) or its work is done.
"""

import json
import sys
import time

import zenoh


def config(mode, connect=None, listen=None):
    conf = zenoh.Config()
    conf.insert_json5("mode", json.dumps(mode))
    conf.insert_json5("scouting/multicast/enabled", "false")
    # Nothing in the machine's /dev/shm: zenoh's shared memory is for same-host peers.
    conf.insert_json5("transport/shared_memory/enabled", "false")
    if connect:
        conf.insert_json5("connect/endpoints", json.dumps([connect]))
    conf.insert_json5("listen/endpoints", json.dumps(listen or []))
    return conf


def main():
    role = sys.argv[1]
    if role == "router":
        session = zenoh.open(config("router", listen=sys.argv[2:]))
        print("ready", flush=True)
        sys.stdin.read()
        session.close()
    elif role == "sub":
        key, connect = sys.argv[2], sys.argv[3]
        session = zenoh.open(config("client", connect=connect))

        def on_sample(sample):
            attachment = sample.attachment
            line = {
                "key": str(sample.key_expr),
                "encoding": str(sample.encoding),
                "attachment": attachment.to_string() if attachment is not None else None,
                "payload": sample.payload.to_bytes().decode("utf-8", "replace"),
            }
            print(json.dumps(line), flush=True)

        subscriber = session.declare_subscriber(key, on_sample)
        print("ready", flush=True)
        sys.stdin.read()
        subscriber.undeclare()
        session.close()
    elif role == "pub":
        key, connect, text, count = sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
        session = zenoh.open(config("client", connect=connect))
        for _ in range(count):
            session.put(key, text, encoding=zenoh.Encoding.APPLICATION_JSON)
            time.sleep(0.1)
        session.close()
    elif role == "garbage":
        key, connect, count = sys.argv[2], sys.argv[3], int(sys.argv[4])
        session = zenoh.open(config("client", connect=connect))
        for i in range(count):
            if i % 2 == 0:
                session.put(key, b"\x00\x01", attachment=b"\xff not json")
            else:
                session.put(key, b"\xc1\xc1", attachment=json.dumps({"codec": "msgpack"}))
            time.sleep(0.05)
        session.close()
    else:
        sys.exit(f"unknown role {role!r}")


if __name__ == "__main__":
    main()
