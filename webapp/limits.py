"""The rate limiter (Flask-Limiter): in memory on the embedded default, in Redis with REDIS_URL."""

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

limiter = Limiter(key_func=get_remote_address, default_limits=[], strategy="moving-window")
