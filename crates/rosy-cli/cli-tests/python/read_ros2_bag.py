"""Reads a bag with the Python `mcap` library and decodes its `cdr` channels with
`mcap-ros2-support` (not rosy's code: the ros2msg schemas' own definitions drive the decoding),
printing as one JSON line each channel's topic, message encoding, schema name and encoding, how
many of its messages decoded and the first one as JSON. A cdr message that does not decode
makes the script exit 1 naming it. Used by cli-tests/ros2_bag.rs.
"""
import json
import sys

from mcap.reader import make_reader
from mcap_ros2.decoder import DecoderFactory


def plain(value):
    """A decoded ROS 2 message (SimpleNamespace objects, lists, bytes) as JSON values."""
    if hasattr(type(value), "_type"):
        return {k: plain(getattr(value, k)) for k in type(value).__slots__}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return list(value)
    return value


channels = {}
decoders = {}
with open(sys.argv[1], "rb") as f:
    reader = make_reader(f)
    for schema, channel, message in reader.iter_messages():
        entry = channels.setdefault(channel.topic, {
            "encoding": channel.message_encoding,
            "schema": schema.name if schema else "",
            "schema_encoding": schema.encoding if schema else "",
            "decoded": 0,
            "first": None,
        })
        if channel.message_encoding != "cdr":
            continue
        try:
            if channel.id not in decoders:
                decoders[channel.id] = DecoderFactory().decoder_for("cdr", schema)
            decoded = decoders[channel.id](message.data)
        except Exception as e:  # noqa: BLE001 - any failure is the test's failure
            print(f"{channel.topic}: message {message.sequence} does not decode: {e!r}",
                  file=sys.stderr)
            sys.exit(1)
        entry["decoded"] += 1
        if entry["first"] is None:
            entry["first"] = plain(decoded)
print(json.dumps(channels))
