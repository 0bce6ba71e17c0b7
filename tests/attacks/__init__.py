"""Red-team submissions for the autograder; see ``catalog.py`` for the list and ``tests/test_attacks.py``.

* ``payloads.py``: attack code, written as ordinary functions, that ends up in a student module.
* ``build.py``: :class:`Attack` and how an attack becomes an upload (zip or folder named by the
  student id): the released stubs, the honest tasks taken from the reference solution, the
  payloads spliced into the task bodies or run at import, and the released notebook (edited).
* ``catalog.py``: ``ATTACKS``, every attack with what it tries and what it may earn.
"""
