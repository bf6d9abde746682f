# Fixes to moto's DynamoDB and DynamoDB Streams emulation that keep a long
# local run flat in memory and time (issue 13, part 4). moto_server runs with
# this file executed first (see moto.go); each fix keeps the behaviour AWS
# documents, and local/moto's tests pin it.
#
# 1. TransactWriteItems: moto snapshots every table a transaction names with a
#    deep copy, for its rollback, so each transaction costs time and memory in
#    proportion to the whole table and its stream. Here the snapshot is of the
#    items the transaction names, and a rollback puts those back and drops the
#    stream records the transaction wrote.
# 2. Stream records: moto keeps every record for ever (AWS: 24 hours). Here they
#    are kept for MOTO_STREAM_RETENTION_SECONDS (default 86400); reading before
#    the horizon is TrimmedDataAccessException, as on AWS.
# 3. Query and Scan: moto lists and sorts every item of the table for each
#    Query and each Scan page, so their time grows with the table (58 ms a
#    query after three minutes of soak, the stack's main cost; a scan sorts
#    the table once per 1 MB page). Here a table query reads its partition, an
#    index query lists only the items with the index's hash key value. A
#    table scan reuses the sorted list until the next write (the stream's next
#    sequence number counts the writes) or, for the later pages of an
#    eventually consistent scan, for up to 2 s; starts each page at its start
#    key by binary search instead of walking the items before it; and does not
#    copy each item it reads before its filter (the local TTL process scans a
#    table that has no stream). The order is the same as before.
# 4. Shard iterators: moto keeps every iterator it hands out (each GetRecords
#    makes one). Here they expire after MOTO_ITERATOR_LIFE_SECONDS (default
#    900: 15 minutes, as on AWS), then ExpiredIteratorException.
# 5. Requests: moto runs Flask in debug mode, where every request that reads
#    its form makes a new class (Flask's enctype hint), freed only by the
#    cyclic collector's rare full passes: memory grew and those passes grew
#    into pauses of a second. The hint is off here; nothing else changes.
# 6. Garbage collection: the tables and streams are millions of long-lived
#    objects, and each full pass of Python's cyclic collector walks them all
#    (pauses that grew with the table). Every 30 s the garbage is collected and
#    the objects alive are frozen out of the collector's later passes
#    (gc.freeze); reference counting still frees them when they go.
# 7. Model instances: moto appends every model object it ever makes to a list
#    of its class (for its reset API), so no item version, stream record or
#    shard iterator is ever freed: about 13 MB a minute at 10 messages/s, the
#    growth that remained after 1-6. DynamoDB's and DynamoDB Streams' models
#    are not listed here (a reset drops the backends, and with them the
#    models); the other services' are, as before.
# 8. TransactWriteItems honours its ClientRequestToken for 10 minutes, as
#    DynamoDB does: the SDK fills one in and sends the same token again when
#    it resends a transaction whose answer was lost, and DynamoDB answers that
#    resend with success without applying it again (moto applied it again, so
#    its conditions failed on the transaction's own writes). The same token
#    with other items is IdempotentParameterMismatchException.
import bisect
import collections
import copy
import gc
import inspect
import json
import os
import threading
import time

import flask.debughelpers
from moto.core.common_models import BaseModel
import moto.awslambda.utils  # noqa: F401  (a stream's first record imports it: a second's stall)
from moto.core.exceptions import JsonRESTError
from moto.core.responses import ActionResult
from moto.dynamodb import responses as dynamodb_responses
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models import table as table_models
from moto.dynamodbstreams import models as streams_models

STREAM_RETENTION = float(os.environ.get("MOTO_STREAM_RETENTION_SECONDS", "86400"))
ITERATOR_LIFE = float(os.environ.get("MOTO_ITERATOR_LIFE_SECONDS", "900"))


# 1. Transactions snapshot the items they touch, not the tables.
class _CopyExcept:
    """Stands in for the copy module inside one of moto's modules: deepcopy
    hands back, uncopied, what keep(x) says needs no copy."""

    def __init__(self, keep):
        self.keep = keep

    def __getattr__(self, name):
        return getattr(copy, name)

    def deepcopy(self, x, memo=None):
        return x if self.keep(x) else copy.deepcopy(x, memo)


import moto.dynamodb.models as dynamodb_models  # noqa: E402

# A Table is not copied: the wrapper below keeps what a rollback needs.
dynamodb_models.copy = _CopyExcept(lambda x: isinstance(x, table_models.Table))
_transact = DynamoDBBackend.transact_write_items


def _next_seq(shard):
    return shard.starting_sequence_number + len(shard.items)


def transact_write_items(self, transact_items):
    saved, shards = [], {}
    for ti in transact_items:
        for op in ti.values():
            tbl = self.tables.get(op.get("TableName")) if isinstance(op, dict) else None
            if tbl is None:
                continue
            keys = op.get("Key") or op.get("Item") or {}
            try:
                h, r = self.get_keys_value(tbl, keys)
            except Exception:
                continue  # moto's own checks answer this one
            saved.append((tbl, h, r, copy.deepcopy(tbl.get_item(h, r))))
            if tbl.stream_shard is not None:
                shards.setdefault(id(tbl.stream_shard), (tbl.stream_shard, _next_seq(tbl.stream_shard)))
    try:
        return _transact(self, transact_items)
    except Exception:
        for tbl, h, r, item in reversed(saved):
            part = tbl.items[h] if tbl.has_range_key else tbl.items
            key = r if tbl.has_range_key else h
            if item is None:
                part.pop(key, None)
            else:
                part[key] = item
        for shard, seq in shards.values():
            del shard.items[max(0, seq - shard.starting_sequence_number):]
        raise


DynamoDBBackend.transact_write_items = transact_write_items


# 2. Stream records are kept for the retention period.
_get = table_models.StreamShard.get
_record_init = table_models.StreamRecord.__init__


def record_init(self, *args, **kwargs):
    self.born = time.monotonic()
    _record_init(self, *args, **kwargs)


_add = table_models.StreamShard.add


def add(self, old, new):
    _add(self, old, new)
    trim(self)  # a stream nobody reads stays bounded too


def trim(shard):
    cutoff = time.monotonic() - STREAM_RETENTION
    n = bisect.bisect_left(shard.items, cutoff, key=lambda r: r.born)
    if n:
        del shard.items[:n]
        shard.starting_sequence_number += n


def get(self, start, quantity):
    trim(self)
    if start < self.starting_sequence_number:
        raise _trimmed()
    return _get(self, start, quantity)


_iterator_init = streams_models.ShardIterator.__init__


def iterator_init(self, streams_backend, stream_shard, *args, **kwargs):
    trim(stream_shard)  # TRIM_HORIZON and LATEST count from what is kept
    _iterator_init(self, streams_backend, stream_shard, *args, **kwargs)
    if self.sequence_number < stream_shard.starting_sequence_number:
        raise _trimmed()


def _trimmed():
    return JsonRESTError(
        "TrimmedDataAccessException",
        "The operation attempted to read past the oldest stream record in a shard.",
    )


table_models.StreamRecord.__init__ = record_init
table_models.StreamShard.add = add
table_models.StreamShard.get = get
streams_models.ShardIterator.__init__ = iterator_init


# 3. A query lists only the items it can match.
_query = table_models.Table.query
_query_signature = inspect.signature(_query)
_all_items = table_models.Table.all_items
_scope = threading.local()


def _order(x):
    return (x.hash_key, x.range_key) if x.range_key else x.hash_key


_sorted = {}  # id(table) -> (writes, table, sorted items, when), for scans
SCAN_STALENESS = 2.0  # seconds a scan's later pages may reuse its list


def _scan_items(table, scope):
    writes = _next_seq(table.stream_shard) if table.stream_shard is not None else None
    now = time.monotonic()
    c = _sorted.get(id(table))
    # A later page of an eventually consistent scan may use the list its
    # earlier pages used (up to 2 s old); a first page never does.
    fresh = c is not None and c[1] is table and (
        (writes is not None and c[0] == writes)
        or (scope["exclusive_start_key"] and not scope["consistent_read"] and now - c[3] < SCAN_STALENESS)
    )
    if not fresh:
        c = (writes, table, _all_items(table), now)
        _sorted[id(table)] = c
    items, esk = c[2], scope["exclusive_start_key"]
    if not esk:
        return items
    # Start after the page's start key (moto would walk every item before it).
    keys = ([table.hash_key_attr], [table.range_key_attr])
    lo, hi = 0, len(items)
    while lo < hi:
        mid = (lo + hi) // 2
        if table._item_comes_before_dct(items[mid], esk, *keys, True):
            lo = mid + 1
        else:
            hi = mid
    return items[lo:]


def all_items(self):
    scope = getattr(_scope, "scan", None)
    if scope is not None and scope["self"] is self:
        return _scan_items(self, scope)
    scope = getattr(_scope, "query", None)
    if scope is None or scope["self"] is not self:
        return _all_items(self)
    if scope.get("index_name"):
        conds = scope.get("hash_key_conditions") or []
        if not conds:
            return _all_items(self)
        return sorted(
            (it for it in _every_item(self) if all(_equal(it.attrs.get(a), v) for a, v in conds)),
            key=_order,
        )
    part = self.items.get(scope["hash_key"])  # .get: no empty partition is made
    if part is None:
        return []
    return sorted(part.values(), key=_order) if self.range_key_attr else [part]


def _equal(value, want):
    return bool(value) and value == want  # as moto's own test of an item


def _every_item(table):
    for part in table.items.values():
        if table.range_key_attr:
            yield from part.values()
        else:
            yield part


def query(self, *args, **kwargs):
    bound = _query_signature.bind(self, *args, **kwargs)
    _scope.query = dict(bound.arguments)
    try:
        return _query(self, *args, **kwargs)
    finally:
        _scope.query = None


_scan = table_models.Table.scan
_scan_signature = inspect.signature(_scan)


def scan(self, *args, **kwargs):
    bound = _scan_signature.bind(self, *args, **kwargs)
    bound.apply_defaults()
    if bound.arguments.get("index_name"):
        return _scan(self, *args, **kwargs)
    _scope.scan = dict(bound.arguments)
    try:
        return _scan(self, *args, **kwargs)
    finally:
        _scope.scan = None


# A table scan copies every item it reads before filtering, though it only
# reads them (a projection makes new items): it gets the item itself.
table_models.copy = _CopyExcept(
    lambda x: isinstance(x, table_models.Item) and getattr(_scope, "scan", None) is not None
)


table_models.Table.all_items = all_items
table_models.Table.query = query
table_models.Table.scan = scan


# 4. Shard iterators expire.
class ExpiringIterators(collections.OrderedDict):
    def __setitem__(self, key, value):
        now = time.monotonic()
        super().__setitem__(key, (now, value))
        while True:
            first = next(iter(self))
            if super().__getitem__(first)[0] > now - ITERATOR_LIFE:
                break
            self.popitem(last=False)

    def __getitem__(self, key):
        try:
            return super().__getitem__(key)[1]
        except KeyError:
            raise JsonRESTError("ExpiredIteratorException", "Iterator expired.") from None


_init = streams_models.DynamoDBStreamsBackend.__init__


def init(self, *args, **kwargs):
    _init(self, *args, **kwargs)
    self.shard_iterators = ExpiringIterators()


streams_models.DynamoDBStreamsBackend.__init__ = init


# 5. No class per request.
flask.debughelpers.attach_enctype_error_multidict = lambda request: None


# 6. Long-lived objects leave the collector's passes.
def _freeze():
    while True:
        time.sleep(30)
        gc.collect()  # garbage frozen would never be freed
        gc.freeze()


threading.Thread(target=_freeze, name="gc-freeze", daemon=True).start()


# 7. DynamoDB's model objects are not kept for ever.
def _new(cls, *args, **kwargs):
    instance = object.__new__(cls)
    if not cls.__module__.startswith(("moto.dynamodb.", "moto.dynamodbstreams.")):
        cls.instances_tracked.append(instance)
    return instance


BaseModel.__new__ = staticmethod(_new)


# 8. A transaction's client request token makes its resend a success.
TOKEN_LIFE = 600.0
_tokens = collections.OrderedDict()  # token -> (monotonic time done, the items as JSON)
_tokens_lock = threading.Lock()
_transact_handler = dynamodb_responses.DynamoHandler.transact_write_items


def transact_write_items_once(self):
    token = self.body.get("ClientRequestToken")
    if not token:
        return _transact_handler(self)
    items = json.dumps(self.body.get("TransactItems"), sort_keys=True, default=repr)  # B values are bytes
    now = time.monotonic()
    with _tokens_lock:
        while _tokens and next(iter(_tokens.values()))[0] < now - TOKEN_LIFE:
            _tokens.popitem(last=False)
        seen = _tokens.get(token)
    if seen is not None:
        if seen[1] != items:
            raise JsonRESTError(
                "IdempotentParameterMismatchException",
                "The request uses the same client token as a previous, but non-identical request.",
            )
        return ActionResult({"ConsumedCapacity": [], "ItemCollectionMetrics": {}})
    result = _transact_handler(self)  # a refused transaction raises: its token is not kept
    with _tokens_lock:
        _tokens[token] = (time.monotonic(), items)
    return result


dynamodb_responses.DynamoHandler.transact_write_items = transact_write_items_once
