"""Writes a bag with the Python `mcap` library, chunks compressed as argv[2] says (zstd, lz4):
topic `chatter`, JSON messages ["hello", i] for i in 0..argv[3], 10 ms apart. Used by
cli-tests/foxglove_bag.rs to check that rosy reads bags other tools write.
"""
import json
import sys

from mcap.writer import CompressionType, Writer

path, compression, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
kind = {"zstd": CompressionType.ZSTD, "lz4": CompressionType.LZ4}[compression]
with open(path, "wb") as f:
    writer = Writer(f, compression=kind, chunk_size=4096)
    writer.start(profile="", library="python-mcap-test")
    schema = writer.register_schema(name="chatter", encoding="jsonschema", data=b'{"type": "array"}')
    channel = writer.register_channel(topic="chatter", message_encoding="json", schema_id=schema)
    start = 1_700_000_000_000_000_000
    for i in range(count):
        t = start + i * 10_000_000
        writer.add_message(channel_id=channel, log_time=t, publish_time=t, sequence=i,
                           data=json.dumps(["hello", i]).encode())
    writer.finish()
