# cmd.exe /c <line> as Windows OpenSSH runs an exec, for the lines the test host accepts: cmd's operators (& | < > ^)
# and %VAR% expansion are refused loudly (not modelled) outside double quotes, % anywhere; then the Microsoft C
# runtime's argument splitting (CommandLineToArgvW) that powershell.exe and pwsh.exe see: whitespace separates,
# double quotes group, 2n backslashes + quote = n backslashes and a quote toggle, 2n+1 = n backslashes and a literal
# quote, "" inside quotes = a literal quote. Prints the arguments shell-quoted for winshell.sh's eval, or exits 99
# with the reason on stderr.
import shlex
import sys

line = sys.argv[1]
if "%" in line:
    sys.stderr.write("Lifeboat Hyper-V test host: cmd.exe %%VARIABLE%% expansion is not modelled: %s\r\n" % line)
    sys.exit(99)
args = []
current = []
have = False
quoted = False
i = 0
n = len(line)
while i < n:
    c = line[i]
    if c == "\\":
        j = i
        while j < n and line[j] == "\\":
            j += 1
        count = j - i
        if j < n and line[j] == '"':
            current.append("\\" * (count // 2))
            if count % 2 == 1:
                current.append('"')
                i = j + 1
            else:
                i = j
            have = True
            continue
        current.append("\\" * count)
        have = True
        i = j
        continue
    if c == '"':
        if quoted and i + 1 < n and line[i + 1] == '"':
            current.append('"')
            i += 2
            continue
        quoted = not quoted
        have = True
        i += 1
        continue
    if not quoted and c in " \t":
        if have:
            args.append("".join(current))
            current = []
            have = False
        i += 1
        continue
    if not quoted and c in "&|<>^":
        sys.stderr.write("Lifeboat Hyper-V test host: cmd.exe operators are not modelled: %s\r\n" % line)
        sys.exit(99)
    current.append(c)
    have = True
    i += 1
if have:
    args.append("".join(current))
sys.stdout.write(" ".join(shlex.quote(a) for a in args))
