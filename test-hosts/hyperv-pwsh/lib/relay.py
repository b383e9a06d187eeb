# The exec relay of the test host's warm pwsh pool (pool.ts): winshell.sh execs it in place of pwsh. It asks the broker
# for a warm pwsh, which takes this process's stdin, stdout and stderr (pidfd_getfd) and runs the command line on
# them; this process only waits and exits with pwsh's exit code, so sshd sees the session as it would see pwsh's.
# The answer: the exit code on the first line, then text for stderr (a failed start).
import json
import os
import socket
import sys

s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(os.environ["LB_HVPWSH_POOL"])
request = {"pid": os.getpid(), "args": sys.argv[1:], "variant": os.environ.get("LB_HVPWSH_VARIANT", "")}
s.sendall((json.dumps(request) + "\n").encode())
answer = b""
while True:
    chunk = s.recv(256)
    if not chunk:
        break
    answer += chunk
first, _, rest = answer.partition(b"\n")
if rest:
    os.write(2, rest)
try:
    code = int(first.decode().strip())
except ValueError:
    os.write(2, b"Lifeboat Hyper-V test host: the pwsh pool gave no exit code\r\n")
    code = 255
os._exit(code & 0xFF)
