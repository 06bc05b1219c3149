"""Command-line arguments of a node: ``--name`` and ``--domain-id``, as in the original rosy."""

import os
from argparse import ArgumentParser

DEFAULT_DOMAIN_ID = "default"


def get_domain_id(default: str = DEFAULT_DOMAIN_ID) -> str:
    """``$ROSY_DOMAIN_ID``, else ``default``."""
    return os.environ.get("ROSY_DOMAIN_ID") or default


def get_node_arg_parser(
    default_node_name: str = None,
    default_domain_id: str = DEFAULT_DOMAIN_ID,
    **kwargs,
) -> ArgumentParser:
    """An argument parser with ``--name`` and ``--domain-id`` (kwargs go to ArgumentParser)."""
    parser = ArgumentParser(**kwargs)
    add_node_args(parser, default_node_name, default_domain_id)
    return parser


def add_node_args(
    parser: ArgumentParser,
    default_node_name: str = None,
    default_domain_id: str = DEFAULT_DOMAIN_ID,
) -> None:
    add_node_name_arg(parser, default_node_name)
    add_domain_id_arg(parser, default_domain_id)


def add_node_name_arg(parser: ArgumentParser, default: str = None) -> None:
    """``--name``: required unless a default is given; ``rosy launch`` passes the name in
    ``$ROSY_NODE_NAME``, which then is the default."""
    default = os.environ.get("ROSY_NODE_NAME") or default
    if default is not None:
        parser.add_argument("--name", default=default, help="Node name. Default: %(default)s")
    else:
        parser.add_argument("--name", required=True, help="Node name.")


def add_domain_id_arg(parser: ArgumentParser, default: str = DEFAULT_DOMAIN_ID) -> None:
    parser.add_argument(
        "--domain-id",
        default=get_domain_id(default),
        help="Only nodes of one domain id see each other (also $ROSY_DOMAIN_ID). "
        "Default: %(default)r",
    )
