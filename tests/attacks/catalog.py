"""Every red-team submission: what it tries and what it may earn (only its honest tasks' points).

Targets are chosen so that an attack cannot hurt its own honest part by design: within
``layers`` the Linear_ReLU tasks call the student's Linear and ReLU, so they are never honest
next to an attack on those; ``fc_net`` tasks get the reference layers through callbacks, so they
stay honest next to anything in ``layers``. Several payloads play a different variant on each
call (see ``payloads._pick``), so one submission covers a family of tricks; the expensive
ones (that kill the sandbox or hang) fire on one call only.
"""

from __future__ import annotations

from tests.attacks import crafted
from tests.attacks import payloads as p
from tests.attacks import round2_engine as r2e
from tests.attacks import round2_surface as r2s
from tests.attacks.build import Attack

LAYERS_HONEST = ("Linear.backward", "ReLU.backward", "softmax_loss", "svm_loss")
FC_NET_HONEST = (
    "TwoLayerNet.__init__",
    "TwoLayerNet.loss",
    "FullyConnectedNet.__init__",
    "FullyConnectedNet.loss",
)
#: Honest next to an attack on Linear.forward or Linear_ReLU.forward.
MIXED_HONEST = ("ReLU.backward", "softmax_loss", "TwoLayerNet.loss", "FullyConnectedNet.__init__")
#: The write probe's report when nothing but the sandbox's private /tmp was writable.
WROTE_ONLY_TMP = r"WRITEPROBE succeeded=\[('[aw]:/tmp/[^']*'(, )?)*\]"
LF = "Linear.forward"
LRF = "Linear_ReLU.forward"

ATTACKS: list[Attack] = [
    # ---- exiting and crashing --------------------------------------------------------------
    Attack("exit_at_import", "sys.exit(0) whenever fc_net is imported", honest=LAYERS_HONEST, on_import={"fc_net": p.sys_exit_now}),
    Attack("os_exit_at_import", "os._exit(0) whenever layers is imported", honest=FC_NET_HONEST, on_import={"layers": p.os_exit_now}),
    Attack("exit_mid_call", "prints PASS, then sys.exit(0) / os._exit(0) / SIGKILL to itself inside Linear.forward", honest=MIXED_HONEST, tasks={LF: p.exit_in_many_ways}),
    Attack("crash_mid_call", "segfault (ctypes), os.abort(), C stack overflow, an unprintable BaseException", honest=MIXED_HONEST, tasks={LF: p.crash_in_many_ways}),
    Attack("immortal_session", "a session child that never exits when its session ends (the zygote waits for it)", honest=MIXED_HONEST, tasks={"ReLU.forward": p.immortal_session}),
    Attack("kill_zygote", "SIGKILLs its parent (the fork server) and kill(-1) in the sandbox", honest=MIXED_HONEST, tasks={LRF: p.kill_zygote_once}),
    # ---- tampering with comparisons and the grader ------------------------------------------
    Attack("patch_comparisons", "torch/numpy allclose, equal, Tensor.__eq__ ... patched to 'equal' in the child", honest=MIXED_HONEST, tasks={LF: p.patch_comparisons}),
    Attack("import_grader", "imports grader.checks and the reference to patch them (absent in the sandbox)", honest=MIXED_HONEST, tasks={LF: p.import_grader}, evidence=(r"GRADERPROBE imported=\[\] \| loaded=\[\]",)),
    Attack("patch_child_runner", "rewrites the child's protocol: every reply says kind=result, passed, score 100", honest=MIXED_HONEST, tasks={LF: p.patch_child_runner}),
    Attack("inherited_fds", "looks for the zygote's control socket and other inherited descriptors", honest=MIXED_HONEST, tasks={LF: p.inherited_fds}, evidence=(r"FDPROBE sockets=1 \| others=\[\]",)),
    Attack("reference_amplification", "asks the reference (in the grader) for 5 GB and 1.4 GB outer products", honest=MIXED_HONEST, tasks={"FullyConnectedNet.loss": p.reference_amplification}, evidence=(r"AMPPROBE 25000: \w+Error.* \| 13000: \w+Error",)),
    Attack("forged_callback", "asks the grader to run reference code outside the allowed callbacks", honest=MIXED_HONEST, tasks={LF: p.forged_callback}, evidence=(r"CALLBACKPROBE .*is not available",)),
    Attack("spoof_inputs_unchanged", "modifies x in place in ReLU.forward and patches the child so that reading the kept input returns a snapshot",
           honest=(*MIXED_HONEST, "ReLU.forward"), unearned=("relu_forward_input_unchanged",),
           tasks={"ReLU.forward": p.relu_in_place}, on_import={"layers": p.spoof_child_state},
           known_weakness="in-place checks read the input back through the child (keep/read), which the student's "
           "code can rewrite; only returned values are authoritative"),
    # ---- outputs that only look right ----------------------------------------------------------
    Attack("fake_equal_values", "always-equal objects, Tensor subclass with __torch_function__, ndarray subclass", honest=MIXED_HONEST, tasks={LF: p.fake_equal_values}),
    Attack("non_finite_or_broadcast", "NaN/inf of the right shape, a 0-dim or stride-0 broadcast scalar", honest=MIXED_HONEST, tasks={LF: p.non_finite_or_broadcast}),
    Attack("malformed_outputs", "right numbers in the wrong shape/dtype, the input itself, a non-tuple, a forged Handle", honest=MIXED_HONEST, tasks={LF: p.malformed_outputs}),
    # ---- the wire ----------------------------------------------------------------------------
    Attack("frame_lies", "2**63 length, out-of-range tensor table, (0, 2**70) shape, unknown kinds, tag clash", honest=MIXED_HONEST, tasks={LF: p.frame_lies}),
    Attack("parser_bombs", "a header nested 10**6 deep, 40M tiny strings (160 MB), 100k tensors", honest=MIXED_HONEST, tasks={LRF: p.parser_bombs}),
    Attack("huge_output", "a 360 MB output tensor (over the frame limit)", honest=MIXED_HONEST, tasks={LRF: p.huge_output}),
    # ---- resources ---------------------------------------------------------------------------
    Attack("infinite_loop_call", "hangs on one Linear_ReLU.forward call", honest=MIXED_HONEST, tasks={LRF: p.infinite_loop_on_small_input}),
    Attack("infinite_loop_import", "hangs whenever layers is imported (every layers check would time out)", on_import={"layers": p.infinite_loop_now}),
    Attack("memory_bomb", "touches memory until the address-space limit; fills /tmp (tmpfs) once", honest=MIXED_HONEST, tasks={LF: p.memory_bomb}, evidence=(r"MEMPROBE allocated \d+ MB", r"FILLPROBE bounded")),
    Attack("fork_bomb", "forks until RLIMIT_NPROC; every child stays and keeps trying", honest=MIXED_HONEST, tasks={LF: p.fork_bomb}, evidence=(r"FORKPROBE forked \d+ then",)),
    Attack("setsid_orphan", "a double-forked setsid grandchild that outlives the call, writing to stdout", honest=MIXED_HONEST, tasks={LF: p.setsid_orphan}),
    Attack("orphan_saboteur", "at layers import, leaves a process that SIGKILLs every later session", honest=FC_NET_HONEST, on_import={"layers": p.orphan_saboteur}),
    Attack("stdout_flood", "100 MB to stdout and 10 MB to stderr per call, then the right answer", honest=(*MIXED_HONEST, LF), tasks={LF: p.stdout_flood}),
    # ---- secrets, file system, network ---------------------------------------------------------
    Attack("read_secrets", "solutions, hidden checks, references, environ, another student, host files", honest=MIXED_HONEST, tasks={LF: p.read_secrets}, evidence=(r"SECRETPROBE .*env=\{\}",)),
    Attack("write_outside", "writes the repo, the grading folder, another student, the runner, host /tmp", honest=MIXED_HONEST, tasks={LF: p.write_outside}, evidence=(WROTE_ONLY_TMP,)),
    Attack("open_network", "TCP to host listeners and the internet, abstract unix socket, DNS", honest=MIXED_HONEST, tasks={LF: p.open_network}, evidence=(r"NETPROBE (?!.*connected:)",)),
    Attack("stash_inputs", "stashes every input in /tmp and shows the earlier ones in later messages", honest=MIXED_HONEST, tasks={LF: p.stash_inputs}),
    Attack("fake_results", "fake PASS lines, score files everywhere, a message forging the feedback", honest=MIXED_HONEST, tasks={LF: p.fake_results}),
    # ---- uploads -------------------------------------------------------------------------------
    Attack("zip_traversal", "../ and absolute members, symlink members to the solutions, a bad manifest date", honest=LAYERS_HONEST, upload=crafted.zip_traversal),
    Attack("zip_bombs", "a 256 MB member of zeros and a member whose header understates its size", honest=LAYERS_HONEST, upload=crafted.zip_bombs),
    Attack("zip_junk", "600 junk members next to honest files", upload=crafted.zip_too_many_members),
    Attack("not_a_zip", "garbage named .zip", upload=crafted.not_a_zip),
    Attack("folder_symlinks", "a folder whose task files and notebook folder are symlinks into solutions/", upload=crafted.folder_with_symlinks),
    Attack("folder_symlinked_dir", "a folder whose whole course_lib is a symlink to solutions/course_lib", upload=crafted.folder_with_symlinked_dir),
    # ---- notebooks (executed) -------------------------------------------------------------------
    Attack("nb_not_json", "a notebook that is not JSON", honest=MIXED_HONEST, notebook=crafted.not_json, notebook_batch=True),
    Attack("nb_tamper_and_probe", "edited locked cells, grade ids, points, metadata; script markup; cells that read "
           "secrets, write outside, connect out, display HTML/JS/SVG, leave an orphan, fill the disk, fork-bomb the kernel",
           honest=MIXED_HONEST, notebook=crafted.tamper_and_probe, notebook_batch=True,
           evidence=(r"SECRETPROBE", WROTE_ONLY_TMP, r"NETPROBE (?!.*connected:)", r"FILLPROBE bounded", r"FORKPROBE")),
    Attack("nb_flood_and_hang", "a 50 MB printout, then cells that busy-loop past the notebook's timeout ignoring SIGINT/SIGTERM", honest=MIXED_HONEST,
           notebook=crafted.run_code(p.nb_flood, *[p.nb_slow_cell] * 3), notebook_batch=True),
    # ---- round 2: kernel state and student strings
    Attack("keyring_donor", "at import, wraps its honest Linear.forward to leave every answer, readable by all, in a "
           "named keyring linked from its uid's persistent keyring (kept for days) and the inherited session keyring",
           honest=(*MIXED_HONEST, LF), on_import={"layers": r2s.keyring_answer_donor}),
    Attack("keyring_taker", "no Linear.forward: returns what keyring_donor (graded in the batch before) left in the "
           "kernel's keyrings for the same inputs", honest=MIXED_HONEST, tasks={LF: r2s.keyring_answer_taker},
           notebook_batch=True),
    Attack("formgrader_xss", "written answers and new cells with <script>, onerror, <svg onload>, ontoggle, javascript: "
           "links, iframe, style, meta refresh, a mermaid diagram; a raw HTML cell; HTML/SVG/JS outputs",
           honest=MIXED_HONEST, notebook=r2s.xss_notebook, notebook_batch=True),
    Attack("terminal_escapes", "an exception whose class name and message carry OSC title/clipboard, erase-line and bidi "
           "escapes, forged PASS lines, markup and a formula; a notebook cell that writes escapes to the notebook "
           "runner's stderr and kills it", honest=MIXED_HONEST, tasks={LF: r2s.escape_sequence_error},
           notebook=r2s.escapes_notebook, notebook_batch=True, evidence=(r"PWNED-TITLE",)),
    # ---- round 2: grading engine
    Attack("stash_across_tasks", "stashes every input of Linear.forward and ReLU.forward in /tmp and shows them in later "
           "messages: a task's hidden inputs reach a later task's public feedback unless hidden checks run last",
           honest=(*LAYERS_HONEST, *FC_NET_HONEST), tasks={LF: r2e.stash_across_tasks, "ReLU.forward": r2e.stash_across_tasks},
           evidence=(r"STASH2 .*0x",)),
    Attack("decode_alias_bomb", "a reply naming one 8 MB tensor 400 times (3.2 GB if decoded per reference)",
           honest=MIXED_HONEST, tasks={LF: r2e.decode_alias_bomb}, evidence=(r"aliases count",)),
    Attack("reference_cpu_burn", "asks the reference Linear.forward (in the grader) for an 8000x8000 int8 product (~15 s CPU)",
           honest=MIXED_HONEST, tasks={"FullyConnectedNet.loss": r2e.reference_cpu_burn}, evidence=(r"CPUPROBE [\d.]+ s \| .*CPU seconds",)),
]  # fmt: skip
