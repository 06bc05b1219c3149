"""Reads a bag with the Python `mcap` library (not rosy's reader) and prints, as one JSON line,
each channel's topic, message encoding and schema, and how many of its messages decode as JSON.
A message that does not decode makes the script exit 1 naming it. Used by cli-tests/foxglove_bag.rs.
"""
import json
import sys

from mcap.reader import make_reader

channels = {}
with open(sys.argv[1], "rb") as f:
    reader = make_reader(f)
    for schema, channel, message in reader.iter_messages():
        entry = channels.setdefault(channel.topic, {
            "encoding": channel.message_encoding,
            "schema": schema.name if schema else "",
            "schema_encoding": schema.encoding if schema else "",
            "schema_title": "",
            "decoded": 0,
            "first": None,
        })
        if schema and schema.encoding == "jsonschema":
            entry["schema_title"] = json.loads(schema.data).get("title", "")
        if channel.message_encoding == "json":
            try:
                value = json.loads(message.data)
            except ValueError as e:
                print(f"{channel.topic}: message {message.sequence} is not JSON: {e}", file=sys.stderr)
                sys.exit(1)
            entry["decoded"] += 1
            if entry["first"] is None:
                # Large fields (image data) shortened to their length.
                if isinstance(value, dict):
                    value = {k: (len(v) if isinstance(v, str) and len(v) > 64 else v) for k, v in value.items()}
                entry["first"] = value
print(json.dumps(channels))
