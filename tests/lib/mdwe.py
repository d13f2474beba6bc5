#!/usr/bin/env python3
"""mdwe.py PROGRAM ARGS... -- run PROGRAM under the kernel's W^X policy
(prctl PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN; Linux 6.3 and later), the
same refusal systemd's MemoryDenyWriteExecute=yes enforces with seccomp:
no mapping may become writable and executable.  Exits 77 when the kernel
has no such prctl, so a test can skip."""
import ctypes
import os
import sys

PR_SET_MDWE = 65
PR_MDWE_REFUSE_EXEC_GAIN = 1

if ctypes.CDLL(None, use_errno=True).prctl(
        PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0:
    print("mdwe.py: prctl(PR_SET_MDWE): %s"
          % os.strerror(ctypes.get_errno()), file=sys.stderr)
    sys.exit(77)
os.execv(sys.argv[1], sys.argv[1:])
