"""common.py — the soak's shared definitions: recipients, message
flags, outcome kinds, stages, the rule files, and small helpers."""
import time

# Recipient pool: bit i of a mask is RCPTS[i].
RCPTS = ["alice@dest.test", "bob@dest.test", "carol@dest.test",
         "dave@dest.test", "trap@dest.test", "unknown@dest.test"]
R_TRAP, R_UNKNOWN = 4, 5

# Per-message flags.
F_REJECT_HDR = 1      # Subject: SOAK-REJECT -> rule rejects at EOM
F_REJECT_BODY = 2     # body token -> rule rejects at EOM
F_TAG = 4             # Subject: SOAK-TAG -> tagged
F_SPF_FAIL = 8        # sender domain whose SPF fails
F_REJECT = F_REJECT_HDR | F_REJECT_BODY

# Attempt outcome kinds.
K_OK, K_PERM, K_TEMP, K_LOST, K_VANISH, K_VANISH_DOT, K_TIMEOUT = range(7)
KIND_NAMES = ["250", "5xx", "4xx", "lost", "vanished-in-DATA",
              "vanished-after-dot", "timeout"]
STAGES = ["connect", "ehlo", "mail", "rcpt", "data", "dot"]
S_CONN, S_EHLO, S_MAIL, S_RCPT, S_DATA, S_DOT = range(6)

BODY_TOKEN = "soak-body-reject-token"
GOOD_RULES = """\
# soak.rules — the good set (tests/soak/soak.py); reloaded every two
# seconds, and replaced by a broken one in between.
header   SOAK_REJECT  Subject =~ /SOAK-REJECT/
action   SOAK_REJECT  reject "550 5.7.1 soak rule: rejected"
body     SOAK_BODY    /soak-body-reject-token/
action   SOAK_BODY    reject "554 5.7.1 soak rule: body token"
rcptto   SOAK_TRAP    /^trap@/i
action   SOAK_TRAP    reject "550 5.1.1 soak rule: trap"
header   SOAK_TAG     Subject =~ /SOAK-TAG/
score    SOAK_TAG     6
describe SOAK_TAG     soak: tag me
"""
BROKEN_TAILS = [
    "body     SOAK_BROKEN  /unclosed(group/\n",
    "frobnicate SOAK_BROKEN yes\n",
    "score    SOAK_TAG     lots\n",
    "meta     SOAK_META    (SOAK_TAG &&\n",
]


def now():
    return time.monotonic()


def log(*a):
    print("soak:", *a, flush=True)
