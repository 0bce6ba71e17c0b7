"""What the check modules share: inputs, oracles, hints, and the ways of calling the student's code.

``grader/checks/public|hidden/<assignment>.py`` hold the checks (``@check`` functions, one per
rule); everything two checks use lives here under a public name:

- ``inputs``: deterministic and random inputs (seeded, explicit generators);
- ``oracles``: independent expected values (torch.autograd, torch.nn.functional; the update
  rules' torch.optim twins are in ``optim``);
- ``hints``: hints that name the usual cause of a wrong value, and how a known-wrong variant is
  recognised;
- ``calls``: calling the student (tuples unpacked, inputs kept in the child to catch in-place
  edits, backward given the cache of the student's own forward);
- ``models``: models holding given parameters (the student's and the reference's), their loss
  compared, the constructors' parameter layout and initialisation;
- ``layers`` (assignment 1's layers and losses), ``training`` (its hyperparameter tasks),
  ``optim`` (assignment 2), ``dropout`` (3), ``normalization`` and ``capstone`` (4): the steps of
  one assignment's checks, shared by its public and hidden modules.

Tolerances and the case describer of messages are in ``grader/checks/compare.py``.

These modules ship with the public checks (students see them): nothing here names a hidden check
or holds a hidden check's inputs (those stay in ``grader/checks/hidden/``, with the helpers that
would reveal them, such as the capstone's training).
"""
