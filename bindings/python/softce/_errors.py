"""SoftceError: a failed libsoftce call (or an argument the binding cannot pass on)."""

from . import _ctypes


class SoftceError(ValueError):
    """A libsoftce status other than SOFTCE_OK.

    Attributes:
        status: the softce_status value (int), e.g. 5.
        name:   the enumerator name, e.g. "SOFTCE_ERROR_SHAPE".
        detail: the library's softce_last_error() text (or the binding's own detail).
    """

    def __init__(self, status, name, detail):
        self.status = int(status)
        self.name = name
        self.detail = detail
        super().__init__(f"{name}: {detail}" if detail else name)

    def __reduce__(self):  # picklable (e.g. across multiprocessing)
        return (type(self), (self.status, self.name, self.detail))


SoftceError.__module__ = "softce"


def raise_binding_error(name, detail):
    """Raises a SoftceError for a problem found by the binding before calling the library."""
    raise SoftceError(_ctypes.STATUS[name], name, detail)


def check(status):
    """Raises SoftceError unless status is SOFTCE_OK; reads the thread-local detail."""
    if status == 0:
        return
    lib = _ctypes.lib()
    detail = lib.softce_last_error().decode("utf-8", "replace")
    name = lib.softce_status_name(status).decode("ascii", "replace")
    if not detail:
        detail = lib.softce_status_string(status).decode("utf-8", "replace")
    raise SoftceError(status, name, detail)
