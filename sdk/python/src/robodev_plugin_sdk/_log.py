"""hclog JSON lines on stderr: what go-plugin hosts (robodev among them) parse and re-log."""

import datetime
import json
import logging
import os
import sys
import threading

_lock = threading.Lock()
_LEVELS = ("trace", "debug", "info", "warn", "error")
_module = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "plugin"
_threshold = 2  # info


def configure(module=None, level=None):
    """Names the plugin in every line (`@module`) and sets the lowest level written.

    The level defaults to ROBODEV_PLUGIN_LOG_LEVEL (trace, debug, info, warn, error), else info.
    """
    global _module, _threshold
    if module:
        _module = module
    level = (level or os.environ.get("ROBODEV_PLUGIN_LOG_LEVEL") or "info").lower()
    _threshold = _LEVELS.index(level) if level in _LEVELS else 2


def _timestamp():
    """Now in hclog's layout 2006-01-02T15:04:05.000000Z07:00 (local time, like Go's)."""
    now = datetime.datetime.now().astimezone()
    offset = now.utcoffset() or datetime.timedelta(0)
    if offset == datetime.timedelta(0):
        zone = "Z"
    else:
        minutes = int(offset.total_seconds() // 60)
        sign = "+" if minutes >= 0 else "-"
        minutes = abs(minutes)
        zone = "%s%02d:%02d" % (sign, minutes // 60, minutes % 60)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + "%06d" % now.microsecond + zone


def log(level, message, /, **fields):
    """Writes one hclog JSON line (@level, @message, @module, @timestamp, then `fields`; any
    field name works, `message` and `level` too: the first two are positional only).

    Never raises: a closed stderr (the host went away) must not fail a call."""
    if level not in _LEVELS:
        level = "info"
    if _LEVELS.index(level) < _threshold:
        return
    entry = dict(fields)
    entry["@level"] = level
    entry["@message"] = str(message)
    entry["@module"] = _module
    entry["@timestamp"] = _timestamp()
    line = json.dumps(entry, sort_keys=True, separators=(",", ":"), default=str) + "\n"
    with _lock:
        try:
            sys.stderr.write(line)
            sys.stderr.flush()
        except (OSError, ValueError):
            pass


def trace(message, /, **fields):
    log("trace", message, **fields)


def debug(message, /, **fields):
    log("debug", message, **fields)


def info(message, /, **fields):
    log("info", message, **fields)


def warn(message, /, **fields):
    log("warn", message, **fields)


def error(message, /, **fields):
    log("error", message, **fields)


class HclogHandler(logging.Handler):
    """A `logging` handler writing hclog lines, so `logging.getLogger(...)` works in plugins
    (serve() installs it on the root logger unless told not to)."""

    def emit(self, record):
        if record.levelno >= logging.ERROR:
            level = "error"
        elif record.levelno >= logging.WARNING:
            level = "warn"
        elif record.levelno >= logging.INFO:
            level = "info"
        elif record.levelno >= logging.DEBUG:
            level = "debug"
        else:
            level = "trace"
        fields = {"logger": record.name}
        if record.exc_info:
            fields["exception"] = self.formatter.formatException(record.exc_info) if self.formatter else logging.Formatter().formatException(record.exc_info)
        log(level, record.getMessage(), **fields)
