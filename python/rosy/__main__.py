"""``python -m rosy speedtest send|recv``. The other commands (node, topic, service, launch,
bag) are the ``rosy`` binary's: ``cargo install --path .`` at the repository's root."""

import asyncio
import sys
from argparse import ArgumentParser

from rosy import speedtest


def main(argv=None) -> None:
    parser = ArgumentParser(prog="python -m rosy")
    commands = parser.add_subparsers(dest="command", required=True)
    speedtest.add_arguments(
        commands.add_parser("speedtest", help="measure topic messages/s and latency")
    )
    args = parser.parse_args(argv)
    try:
        asyncio.run(speedtest.main(args))
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
