/** The one way test peers talk to libvirt: the `virsh` client against the system daemon. */
import { run } from './run'

export const LIBVIRT_URI = 'qemu:///system'

/** `virsh -c qemu:///system ARGS…`, returning stdout. */
export async function virsh(args: readonly string[], timeoutMs = 120_000): Promise<string> {
  return (await run('virsh', ['-c', LIBVIRT_URI, ...args], { timeoutMs })).stdout
}
