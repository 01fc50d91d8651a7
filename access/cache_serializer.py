"""The Redis caches' serializer: JSON, and whatever is not JSON reads as None.

django-redis pickles by default, and whoever can write to Redis could then
run code in every worker. Values here are JSON (django-redis's
JSONSerializer; integers stay plain, for INCR). A value that is not JSON (a
pickle written before the site stored JSON, or one planted) is never
unpickled: it reads as None. `get` takes it as a miss, and `get_many` lists
the key with None, so a lockout counter's slot that holds one still counts
as taken until it expires (access/lockout.py), rather than the whole check
failing.
"""

from __future__ import annotations

from typing import Any

from django_redis.serializers.json import JSONSerializer


class JSONOnlySerializer(JSONSerializer):
    def loads(self, value: bytes) -> Any:
        try:
            return super().loads(value)
        except ValueError:  # json.JSONDecodeError and UnicodeDecodeError are ValueErrors
            return None
