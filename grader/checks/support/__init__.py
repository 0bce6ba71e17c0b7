"""What the check modules share: inputs, oracles, hints, and the ways of calling the student's code.

``grader/checks/public|hidden/<assignment>.py`` hold the checks (``@check`` functions, one per
rule); everything two checks use lives here under a public name:

- ``inputs``: deterministic and random inputs (seeded, explicit generators);
- ``oracles``: independent expected values (torch.autograd, torch.nn.functional, torch.optim);
- ``hints``: hints that name the usual cause of a wrong value, and how a known-wrong variant is
  recognised;
- ``calls``: calling the student (tuples unpacked, inputs kept in the child to catch in-place
  edits, backward given the cache of the student's own forward);
- ``models``: models holding given parameters (the student's and the reference's), init checks;
- ``training``: the hyperparameter tasks' training runs and the solver configuration;
- ``optim``, ``dropout``, ``normalization``: the helpers of one assignment's checks, shared by
  its public and hidden modules.

These modules ship with the public checks (students see them); helpers of hidden checks only stay
in the hidden module.
"""
