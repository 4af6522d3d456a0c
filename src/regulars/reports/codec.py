"""Encode a report result (a dataclass of frames, dicts, dates, decimals) as bytes, and back.

JSON for the structure, Parquet for each DataFrame (dtypes, decimals and dates
survive the round trip), and no pickle: decoding builds only dataclasses
defined in ``regulars`` and plain values, so a stored result never runs code.
A value this codec cannot represent raises :class:`TypeError` (the caller then
simply does not store it).

>>> import datetime as dt, decimal
>>> import pandas as pd
>>> frame = pd.DataFrame({"a": [1, 2], "b": [decimal.Decimal("1.50"), None]})
>>> back = decode(encode({"when": dt.date(2026, 1, 2), "frame": frame, "pair": (1, "x")}))
>>> back["when"], back["pair"], back["frame"].equals(frame)
(datetime.date(2026, 1, 2), (1, 'x'), True)
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import decimal
import importlib
import io
import json
import math


def encode(value) -> bytes:
    return json.dumps(_enc(value), allow_nan=True).encode()


def decode(data: bytes):
    return _dec(json.loads(data))


def _enc(v):
    import numpy as np
    import pandas as pd

    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, (int, float)) and not isinstance(v, (np.generic,)):
        return {"__float__": repr(v)} if isinstance(v, float) and not math.isfinite(v) else v
    if isinstance(v, np.generic):
        return _enc(v.item())
    if isinstance(v, pd.DataFrame):
        buffer = io.BytesIO()
        v.to_parquet(buffer)
        return {"__frame__": base64.b64encode(buffer.getvalue()).decode()}
    if isinstance(v, pd.Series):
        return {"__series__": _enc(v.to_frame(name=v.name if v.name is not None else "__value__"))}
    if isinstance(v, dt.datetime):
        return {"__datetime__": v.isoformat()}
    if isinstance(v, dt.date):
        return {"__date__": v.isoformat()}
    if isinstance(v, decimal.Decimal):
        return {"__decimal__": str(v)}
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        cls = type(v)
        if not cls.__module__.startswith("regulars."):
            raise TypeError(f"cannot store a {cls.__module__}.{cls.__qualname__}")
        return {"__dataclass__": f"{cls.__module__}:{cls.__qualname__}",
                "fields": {f.name: _enc(getattr(v, f.name)) for f in dataclasses.fields(v)}}
    if isinstance(v, tuple):
        return {"__tuple__": [_enc(x) for x in v]}
    if isinstance(v, list):
        return [_enc(x) for x in v]
    if isinstance(v, dict):
        if all(isinstance(k, str) for k in v) and not any(k.startswith("__") for k in v):
            return {k: _enc(x) for k, x in v.items()}
        return {"__items__": [[_enc(k), _enc(x)] for k, x in v.items()]}
    raise TypeError(f"cannot store a {type(v).__name__}")


def _dec(v):
    if isinstance(v, list):
        return [_dec(x) for x in v]
    if not isinstance(v, dict):
        return v
    if "__frame__" in v:
        import pandas as pd

        return pd.read_parquet(io.BytesIO(base64.b64decode(v["__frame__"])))
    if "__series__" in v:
        frame = _dec(v["__series__"])
        series = frame.iloc[:, 0]
        return series.rename(None) if series.name == "__value__" else series
    if "__float__" in v:
        return float(v["__float__"])
    if "__datetime__" in v:
        return dt.datetime.fromisoformat(v["__datetime__"])
    if "__date__" in v:
        return dt.date.fromisoformat(v["__date__"])
    if "__decimal__" in v:
        return decimal.Decimal(v["__decimal__"])
    if "__tuple__" in v:
        return tuple(_dec(x) for x in v["__tuple__"])
    if "__items__" in v:
        return {_dec(k): _dec(x) for k, x in v["__items__"]}
    if "__dataclass__" in v:
        module, _, name = v["__dataclass__"].partition(":")
        if not module.startswith("regulars."):
            raise TypeError(f"refusing to build {module}:{name}")
        cls = importlib.import_module(module)
        for part in name.split("."):
            cls = getattr(cls, part)
        if not dataclasses.is_dataclass(cls):
            raise TypeError(f"{module}:{name} is not a dataclass")
        fields = {k: _dec(x) for k, x in v["fields"].items()}
        init = {f.name for f in dataclasses.fields(cls) if f.init}
        obj = cls(**{k: x for k, x in fields.items() if k in init})
        for k, x in fields.items():
            if k not in init:
                object.__setattr__(obj, k, x)
        return obj
    return {k: _dec(x) for k, x in v.items()}
