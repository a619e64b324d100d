"""A small ABI codec over eth-abi: call encoding, output and event decoding.

It replaces web3's contract objects on the hot path (they re-resolve the ABI on
every call); selectors, type strings and topics are computed once per contract.

A `string` is decoded with errors="replace": a contract stores whatever bytes a
caller sent (not necessarily UTF-8), and one such string must not make every
read of a record, a view or an event log that holds it raise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from eth_abi import encode
from eth_abi.codec import ABICodec
from eth_abi.decoding import StringDecoder
from eth_abi.encoding import TextStringEncoder
from eth_abi.registry import registry as _default_registry
from eth_utils import keccak, to_checksum_address


class _LenientStringDecoder(StringDecoder):
    """ABI `string` whose bytes need not be UTF-8: undecodable bytes become U+FFFD."""

    def __init__(self):
        super().__init__(handle_string_errors="replace")

    @classmethod
    def from_type_str(cls, abi_type, registry):
        return cls()


_registry = _default_registry.copy()
_registry.unregister("string")
_registry.register("string", TextStringEncoder, _LenientStringDecoder, label="string")
decode = ABICodec(_registry).decode


def _type_string(param: dict) -> str:
    """Canonical ABI type of a parameter; tuples (structs) expand to their components."""
    typ = param["type"]
    if typ.startswith("tuple"):
        inner = ",".join(_type_string(c) for c in param["components"])
        return f"({inner}){typ[len('tuple'):]}"
    return typ


def _normalize(value: Any, typ: str) -> Any:
    """Decoded value in Python-friendly form: checksummed addresses, lists, tuples."""
    if typ.endswith("]"):
        inner = typ[: typ.rindex("[")]
        return [_normalize(v, inner) for v in value]
    if typ.startswith("("):
        inner_types = _split_tuple(typ)
        return tuple(_normalize(v, t) for v, t in zip(value, inner_types))
    if typ == "address":
        return to_checksum_address(value)
    return value


def _split_tuple(typ: str) -> list[str]:
    """Component types of '(a,b,(c,d))'."""
    body, parts, depth, start = typ[1:-1], [], 0, 0
    for i, ch in enumerate(body):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(body[start:i])
            start = i + 1
    if body:
        parts.append(body[start:])
    return parts


@dataclass(frozen=True)
class Function:
    name: str
    selector: bytes
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    output_names: tuple[str, ...]
    mutates: bool

    def encode_call(self, args: Sequence[Any]) -> bytes:
        if len(args) != len(self.inputs):
            raise TypeError(f"{self.name} takes {len(self.inputs)} arguments, got {len(args)}")
        return self.selector + encode(list(self.inputs), list(args))

    def decode_output(self, data: bytes) -> Any:
        """One output comes back bare, several as a tuple."""
        values = decode(list(self.outputs), data)
        values = tuple(_normalize(v, t) for v, t in zip(values, self.outputs))
        return values[0] if len(values) == 1 else values


@dataclass(frozen=True)
class EventType:
    name: str
    topic: bytes
    names: tuple[str, ...]
    types: tuple[str, ...]
    indexed: tuple[bool, ...]


@dataclass(frozen=True)
class Event:
    """A decoded contract event."""

    name: str
    args: dict
    block_number: int
    tx_hash: bytes
    log_index: int
    address: str

    def __getitem__(self, key: str) -> Any:
        return self.args[key]


class ContractInterface:
    """Encoder/decoder for one contract ABI."""

    def __init__(self, abi: list[dict]):
        self.abi = abi
        self.functions: dict[str, Function] = {}
        self.events_by_name: dict[str, EventType] = {}
        self.events_by_topic: dict[bytes, EventType] = {}
        self.constructor_inputs: tuple[str, ...] = ()
        for item in abi:
            kind = item.get("type")
            if kind == "function":
                self._add_function(item)
            elif kind == "event":
                self._add_event(item)
            elif kind == "constructor":
                self.constructor_inputs = tuple(_type_string(p) for p in item["inputs"])

    def _add_function(self, item: dict) -> None:
        inputs = tuple(_type_string(p) for p in item["inputs"])
        outputs = tuple(_type_string(p) for p in item["outputs"])
        selector = keccak(f"{item['name']}({','.join(inputs)})".encode())[:4]
        mutates = item.get("stateMutability") not in ("view", "pure")
        names = tuple(p.get("name", "") for p in item["outputs"])
        self.functions[item["name"]] = Function(item["name"], selector, inputs, outputs, names, mutates)

    def _add_event(self, item: dict) -> None:
        types = tuple(_type_string(p) for p in item["inputs"])
        topic = keccak(f"{item['name']}({','.join(types)})".encode())
        event = EventType(
            item["name"], topic, tuple(p["name"] for p in item["inputs"]), types,
            tuple(bool(p.get("indexed")) for p in item["inputs"]),
        )
        self.events_by_name[event.name] = event
        self.events_by_topic[topic] = event

    def function(self, name: str) -> Function:
        try:
            return self.functions[name]
        except KeyError:
            raise AttributeError(f"the contract has no function {name!r}") from None

    def event_type(self, name: str) -> EventType:
        try:
            return self.events_by_name[name]
        except KeyError:
            known = ", ".join(sorted(self.events_by_name))
            raise KeyError(f"no event named {name!r}; the contract emits {known}") from None

    def encode_constructor(self, args: Sequence[Any]) -> bytes:
        return encode(list(self.constructor_inputs), list(args))

    def decode_log(self, log) -> Event | None:
        """Decode a RawLog of this contract; None when the topic is not one of its events."""
        if not log.topics:
            return None
        event = self.events_by_topic.get(log.topics[0])
        if event is None:
            return None
        data_types = [t for t, ix in zip(event.types, event.indexed) if not ix]
        data_values = iter(decode(data_types, log.data))
        topics = iter(log.topics[1:])
        args = {}
        for name, typ, is_indexed in zip(event.names, event.types, event.indexed):
            if is_indexed:
                args[name] = _normalize(decode([typ], next(topics))[0], typ)
            else:
                args[name] = _normalize(next(data_values), typ)
        return Event(event.name, args, log.block_number, log.tx_hash, log.log_index, log.address)


def topic_for(value: Any, typ: str) -> bytes:
    """The 32-byte topic of an indexed static value (for log filters)."""
    return encode([typ], [value])
