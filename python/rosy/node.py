"""The node: the original rosy's API over rosy's Rust core (``rosy._rosy``).

A node sends and listens on topics and calls and provides services. Callbacks and service
handlers are coroutine functions run on the event loop that created the listener or service;
the mesh itself (discovery, connections, shared memory) runs on Rust threads that sleep when
there is nothing to do.
"""

import asyncio
import inspect
import logging
import signal
from argparse import Namespace
from typing import Any, Awaitable, Callable, NamedTuple, Optional

from rosy import _rosy
from rosy.argparse import get_node_arg_parser
from rosy.codec import JsonCodec, MsgpackCodec, PickleCodec, json_codec, pickle_codec, shape, unshape

logger = logging.getLogger("rosy")

CODEC_RAW = _rosy.CODEC_RAW
CODEC_MSGPACK = _rosy.CODEC_MSGPACK
CODEC_JSON = _rosy.CODEC_JSON
CODEC_CUSTOM = _rosy.CODEC_CUSTOM

TopicCallback = Callable[..., Awaitable[None]]
ServiceCallback = Callable[..., Awaitable[Any]]

_LOAD_BALANCERS = {
    None: None,
    "default": "round-robin",
    "round-robin": "round-robin",
    "least-recent": "round-robin",
    "random": "random",
    "none": "none",
    "all": "none",
}


class Node:
    """A node of the mesh. Build it with ``await rosy.build_node(name)``; use it as an async
    context manager (``async with``) so it closes cleanly."""

    def __init__(self, core, codec):
        self._core = core
        self._codec = codec  # None for msgpack (done in Rust), else an object with encode/decode
        self._listeners = {}
        self._closed = False
        if codec is None:
            # The fast path: args and kwargs go straight to Rust.
            self.send = core.send

    # ----- identity and life -------------------------------------------------------------------

    @property
    def id(self) -> str:
        return self._core.id

    @property
    def name(self) -> str:
        return self._core.name

    @property
    def domain_id(self) -> str:
        return self._core.domain_id

    def __str__(self) -> str:
        return self._core.name

    def __repr__(self) -> str:
        return repr(self._core)

    async def __aenter__(self) -> "Node":
        return self

    async def __aexit__(self, exc_type, exc_value, traceback) -> None:
        await self.stop()

    async def start(self) -> None:
        """Nodes start when built; kept for the original's ``build_node(start=False)``."""

    async def stop(self) -> None:
        """Stops listening, and closes the node after writing out what it queued (at most 1 s)."""
        if self._closed:
            return
        self._closed = True
        for topic in list(self._listeners):
            await self.stop_listening(topic)
        # On an executor thread, which asyncio.run joins: see close_blocking in src/node.rs.
        await asyncio.get_running_loop().run_in_executor(None, self._core.close_blocking)

    async def forever(self) -> None:
        """Waits until Ctrl-C (KeyboardInterrupt, as asyncio.run raises it) or SIGTERM."""
        loop = asyncio.get_running_loop()
        stop = loop.create_future()
        handled = False
        try:
            loop.add_signal_handler(signal.SIGTERM, lambda: stop.done() or stop.set_result(None))
            handled = True
        except (NotImplementedError, RuntimeError, ValueError):
            pass  # not the main thread, or no signals here: Ctrl-C still works
        try:
            await stop
        finally:
            if handled:
                loop.remove_signal_handler(signal.SIGTERM)

    # ----- topics ------------------------------------------------------------------------------

    async def send(self, topic: str, *args, **kwargs) -> int:
        """Sends ``args`` and ``kwargs`` on ``topic`` to every node listening (one per group of
        same-name nodes). Returns how many nodes it went to."""
        payload = self._codec.encode(shape(args, kwargs))
        return await self._core.send_encoded(topic, payload)

    def loan(self, topic: str, size: int) -> "_rosy.Loan":
        """A writable buffer of ``size`` bytes for ``topic``, shared memory when same-host nodes
        listen: fill it in place (``numpy.frombuffer(loan, dtype)``), drop your views of it, then
        ``await loan.send()``. Listeners get the bytes as one argument (codec ``raw``)."""
        return self._core.loan(topic, size)

    async def listen(self, topic: str, callback: TopicCallback) -> None:
        """Calls ``await callback(topic, *args, **kwargs)`` for each message on ``topic``, one at
        a time, in order. A second ``listen`` on the topic replaces the callback."""
        if topic in self._listeners:
            await self.stop_listening(topic)
        subscription = self._core.subscribe(topic)
        is_coroutine = inspect.iscoroutinefunction(callback) or inspect.iscoroutinefunction(
            getattr(callback, "__call__", None)
        )
        task = asyncio.get_running_loop().create_task(
            self._listen_loop(subscription, topic, callback, is_coroutine),
            name=f"rosy listener {topic!r}",
        )
        self._listeners[topic] = (subscription, task)

    async def _listen_loop(self, subscription, topic, callback, is_coroutine) -> None:
        decode = self._decode
        sleep = asyncio.sleep
        while True:
            batch = await subscription.recv_batch()
            if batch is None:
                return
            for first, second in batch:
                if first.__class__ is int:
                    try:
                        args, kwargs = decode(first, second)
                    except Exception:
                        logger.exception("skipping a message on topic=%r that cannot be decoded", topic)
                        continue
                else:
                    args, kwargs = first, second
                try:
                    if is_coroutine:
                        if kwargs:
                            await callback(topic, *args, **kwargs)
                        else:
                            await callback(topic, *args)
                    else:
                        result = callback(topic, *args, **(kwargs or {}))
                        if inspect.isawaitable(result):
                            await result
                except Exception:
                    logger.exception("the callback of topic=%r raised", topic)
            # Let other tasks run between batches: a full queue always has a batch ready.
            await sleep(0)

    def _decode(self, codec_id: int, payload):
        """``(args, kwargs)`` of a payload that Rust did not decode (JSON, custom codecs)."""
        if codec_id == CODEC_JSON:
            return unshape(json_codec.decode(payload))
        if codec_id == CODEC_CUSTOM and self._codec is not None and not isinstance(
            self._codec, JsonCodec
        ):
            return unshape(self._codec.decode(payload))
        raise ValueError(
            f"a message in codec id {codec_id}, which this node ({self._codec_name()}) cannot read"
        )

    def _codec_name(self) -> str:
        return "msgpack" if self._codec is None else getattr(self._codec, "name", "custom")

    async def stop_listening(self, topic: str) -> None:
        """Stops listening to ``topic``."""
        entry = self._listeners.pop(topic, None)
        if entry is None:
            logger.warning("Attempted to remove non-existing listener for topic=%r", topic)
            return
        subscription, task = entry
        # Closing resolves a pending receive with None, which ends the loop; a callback still
        # busy after a second is cancelled.
        subscription.close()
        if task is asyncio.current_task():
            return
        done, _ = await asyncio.wait({task}, timeout=1.0)
        if not done:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    async def topic_has_listeners(self, topic: str) -> bool:
        return self._core.topic_has_listeners(topic)

    async def wait_for_listener(
        self, topic: str, poll_interval: float = 1.0, timeout: Optional[float] = None
    ) -> None:
        """Waits until some node listens to ``topic`` (woken by the mesh: ``poll_interval`` is
        accepted for the original's signature); ``rosy.TimeoutError`` after ``timeout`` s."""
        await self._core.wait_for_listener(topic, timeout)

    def get_topic(self, topic: str) -> "TopicProxy":
        return TopicProxy(self, topic)

    # ----- services ----------------------------------------------------------------------------

    async def call(self, service: str, *args, **kwargs) -> Any:
        """Calls ``service`` and returns its answer. Raises ``rosy.NoProviderError`` (a
        ValueError) when no node provides it, ``rosy.ServiceResponseError`` with the remote
        error's text when its handler raised, ``rosy.TimeoutError`` after the node's call
        timeout (``build_node(call_timeout=10.0)``)."""
        return await self._call(service, None, args, kwargs)

    async def _call(self, service: str, timeout: Optional[float], args, kwargs) -> Any:
        if self._codec is None:
            return await self._core.call(service, timeout, *args, **kwargs)
        payload = self._codec.encode(shape(args, kwargs))
        codec_id, answer = await self._core.call_encoded(
            service, self._core.codec_id, payload, timeout
        )
        return self._decode_value(codec_id, answer)

    def _decode_value(self, codec_id: int, payload) -> Any:
        if codec_id == CODEC_MSGPACK:
            return _rosy.decode_value(payload)
        if codec_id == CODEC_JSON:
            return json_codec.decode(payload)
        if codec_id == CODEC_RAW:
            return payload
        if self._codec is not None:
            return self._codec.decode(payload)
        raise ValueError(f"an answer in codec id {codec_id}, which this node cannot read")

    def _encode_value(self, codec_id: int, value: Any):
        """The answer to a request in ``codec_id``: in the caller's codec when it is msgpack or
        JSON, else in this node's."""
        if codec_id == CODEC_MSGPACK:
            return CODEC_MSGPACK, _rosy.encode_value(value)
        if codec_id == CODEC_JSON:
            return CODEC_JSON, json_codec.encode(value)
        if self._codec is None:
            return CODEC_MSGPACK, _rosy.encode_value(value)
        return self._core.codec_id, self._codec.encode(value)

    async def add_service(self, service: str, handler: ServiceCallback) -> None:
        """Provides ``service``: ``await handler(service, *args, **kwargs)`` answers each call.
        An exception it raises reaches the caller as ``ServiceResponseError(repr(exception))``."""

        async def dispatch(codec_id: int, payload):
            try:
                if codec_id == CODEC_MSGPACK:
                    args, kwargs = _rosy.decode_args(payload)
                else:
                    args, kwargs = self._decode(codec_id, payload)
                result = handler(service, *args, **(kwargs or {}))
                if inspect.isawaitable(result):
                    result = await result
                answer_codec, answer = self._encode_value(codec_id, result)
                return True, answer_codec, answer
            except Exception as e:
                logger.exception("the handler of service=%r raised", service)
                return False, 0, repr(e)

        self._core.add_service(service, dispatch)

    async def remove_service(self, service: str) -> None:
        if not await self._core.remove_service(service):
            logger.warning("Attempted to remove non-existing service=%r", service)

    async def service_has_providers(self, service: str) -> bool:
        return self._core.service_has_providers(service)

    async def wait_for_service_provider(
        self, service: str, poll_interval: float = 1.0, timeout: Optional[float] = None
    ) -> None:
        """Waits until some node provides ``service``; ``rosy.TimeoutError`` after ``timeout``."""
        await self._core.wait_for_service_provider(service, timeout)

    def get_service(self, service: str, timeout: Optional[float] = None) -> "ServiceProxy":
        return ServiceProxy(self, service, timeout)


class TopicProxy(NamedTuple):
    """A topic to send on without naming it each time: ``await topic.send(...)``."""

    node: Node
    topic: str

    def __str__(self) -> str:
        return f"TopicProxy(topic={self.topic!r})"

    async def send(self, *args, **kwargs) -> None:
        await self.node.send(self.topic, *args, **kwargs)

    async def has_listeners(self) -> bool:
        return await self.node.topic_has_listeners(self.topic)

    async def wait_for_listener(self, poll_interval: float = 1.0, timeout=None) -> None:
        await self.node.wait_for_listener(self.topic, poll_interval, timeout)


class ServiceProxy(NamedTuple):
    """A service to call without naming it each time: ``await service(2, 2)``; ``timeout``
    (seconds) overrides the node's call timeout."""

    node: Node
    service: str
    timeout: Optional[float] = None

    def __str__(self) -> str:
        return f"ServiceProxy(service={self.service!r})"

    async def __call__(self, *args, **kwargs) -> Any:
        return await self.call(*args, **kwargs)

    async def call(self, *args, **kwargs) -> Any:
        return await self.node._call(self.service, self.timeout, args, kwargs)

    async def has_providers(self) -> bool:
        return await self.node.service_has_providers(self.service)

    async def wait_for_provider(self, poll_interval: float = 1.0, timeout=None) -> None:
        await self.node.wait_for_service_provider(self.service, poll_interval, timeout)


def _codec_for(data_codec):
    """(name the Rust core is told, Python codec or None for msgpack)."""
    if data_codec is None or data_codec == "msgpack" or isinstance(data_codec, MsgpackCodec):
        return "msgpack", None
    if data_codec == "json" or isinstance(data_codec, JsonCodec):
        return "json", json_codec
    if data_codec == "pickle" or isinstance(data_codec, PickleCodec):
        return "pickle", pickle_codec
    if isinstance(data_codec, str):
        raise ValueError(
            f"data_codec={data_codec!r}: use 'msgpack', 'json', 'pickle' or a codec object"
        )
    encode = getattr(data_codec, "encode", None)
    decode = getattr(data_codec, "decode", None)
    if not callable(encode) or not callable(decode):
        raise TypeError("a codec needs encode(obj) -> bytes and decode(data) -> obj methods")
    if inspect.iscoroutinefunction(encode) or inspect.iscoroutinefunction(decode):
        raise TypeError(
            "this rosy's codecs are synchronous: encode(obj) -> bytes and decode(data) -> obj "
            "(the original's async encode(writer, obj) is not supported)"
        )
    name = getattr(data_codec, "name", None) or type(data_codec).__name__
    if name in ("msgpack", "json", "raw", "rkyv"):
        raise ValueError(f"a custom codec cannot be named {name!r}: that is a built-in codec")
    return name, data_codec


async def build_node(
    name: str,
    domain_id: str = None,
    allow_unix_connections: bool = True,
    allow_tcp_connections: bool = True,
    node_server_host=None,
    node_client_host=None,
    data_codec="msgpack",
    topic_load_balancer=None,
    service_load_balancer=None,
    start: bool = True,
    call_timeout: float = 10.0,
    settle: float = 1.0,
    shm_pool_chunks: Optional[int] = None,
    **kwargs,
) -> Node:
    """Builds and starts a node named ``name`` (same-name nodes share messages round-robin).

    - ``domain_id``: only nodes of one domain see each other; default ``$ROSY_DOMAIN_ID``,
      else ``"default"``.
    - ``data_codec``: ``"msgpack"`` (default; what Rust nodes and the CLI read), ``"json"``,
      ``"pickle"`` (any Python object, Python nodes only) or a codec object.
    - ``topic_load_balancer``: ``None``/``"round-robin"`` (default), ``"random"``, or
      ``"none"`` (every same-name node gets every message).
    - ``service_load_balancer``: ``None``: providers take turns.
    - ``call_timeout``: seconds before ``call`` raises ``rosy.TimeoutError``.
    - ``shm_pool_chunks``: large messages this node's topics keep in flight in shared memory
      (4; at most 64). A large message not yet taken by a same-host reader when that many
      newer ones were sent is taken back (lost for that reader): raise it for fast topics of
      large messages read by slow readers.
    - ``settle``: at most this many seconds spent at start waiting until the peers found are
      connected, so that a message sent at once reaches listeners already running.

    ``allow_unix_connections``, ``allow_tcp_connections``, ``node_server_host`` and
    ``node_client_host`` are accepted for the original's signature: rosy picks shared memory or
    TCP per peer itself (``$ROSY_TRANSPORT``, ``$ROSY_INTERFACES`` steer it).
    """
    if not (allow_unix_connections or allow_tcp_connections):
        raise ValueError("Must allow at least one type of connection")
    if isinstance(topic_load_balancer, str):
        topic_load_balancer = topic_load_balancer.lower()
    if topic_load_balancer not in _LOAD_BALANCERS:
        raise ValueError(
            f"topic_load_balancer={topic_load_balancer!r}: use None, 'round-robin', 'random' or 'none'"
        )
    if service_load_balancer not in (None, "default", "round-robin", "least-recent"):
        raise ValueError(
            f"service_load_balancer={service_load_balancer!r}: providers of a service take "
            "turns; no other strategy is offered"
        )
    codec_name, codec = _codec_for(data_codec)
    core = await _rosy.build_node(
        name,
        domain_id=domain_id or None,
        codec=codec_name,
        topic_load_balancing=_LOAD_BALANCERS[topic_load_balancer],
        call_timeout=call_timeout,
        settle=settle,
        shm_pool_chunks=shm_pool_chunks,
    )
    return Node(core, codec)


async def build_node_from_args(
    default_node_name: str = None,
    args: Namespace = None,
    **kwargs,
) -> Node:
    """Builds a node from the command line's ``--name`` and ``--domain-id`` (parsed with
    ``rosy.argparse.get_node_arg_parser`` unless ``args`` is given); ``kwargs`` go to
    ``build_node`` and win over ``args``."""
    if args is None:
        args = get_node_arg_parser(default_node_name).parse_args()
    options = dict(vars(args))
    options.update(kwargs)
    return await build_node(**options)
