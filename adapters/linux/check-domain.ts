import { jobTag, TAG_PATTERN } from './job-lock'
import { child, childElements, element, removeChildren, type XmlElement } from './xml'

/** Where the disks of health-check VMs are written: one folder per check, named after its job. */
export const CHECK_SCRATCH_ROOT = '/var/lib/libvirt/images'
const AGENT_CHANNEL = 'org.qemu.guest_agent.0'

/** The temporary VM of a health check is named after its job, so the leftovers check finds it after a crash. */
export function checkVmName(jobId: string): string {
  return jobTag(jobId)
}

export function checkScratchDir(jobId: string): string {
  return `${CHECK_SCRATCH_ROOT}/${jobTag(jobId)}`
}

/** The job id of a health-check VM or scratch folder name (exactly `lifeboat-<job id>`), else undefined. */
export function checkJobOf(name: string): string | undefined {
  const m = TAG_PATTERN.exec(name)
  return m?.[1] !== undefined && name === jobTag(m[1]) ? m[1] : undefined
}

/**
 * Bends a restored domain into a temporary health-check VM: no network at all (every interface removed, so the copy
 * can never answer in place of the original or reach anything), no remote display listening on a port, consoles on
 * pseudo-terminals instead of log files on the host, a guest-agent channel (the proof of life) and a plain VGA
 * adapter when it has no video (something to take a screenshot of), and off rather than restarted when it crashes or
 * powers off (so a guest that dies is a verdict at once, not a timeout).
 */
export function isolateCheckDomain(root: XmlElement, jobId: string): { removedInterfaces: number } {
  let devices = child(root, 'devices')
  if (devices === undefined) {
    devices = element('devices')
    root.children.push(devices)
  }
  const removedInterfaces = childElements(devices, 'interface').length
  removeChildren(devices, 'interface')
  removeChildren(devices, 'graphics')
  for (const kind of ['serial', 'console', 'parallel', 'channel']) {
    for (const dev of childElements(devices, kind)) {
      if (dev.attrs.type !== 'file') continue
      dev.attrs.type = 'pty'
      removeChildren(dev, 'source')
      removeChildren(dev, 'log')
    }
  }
  const hasAgent = childElements(devices, 'channel').some((c) => child(c, 'target')?.attrs.name === AGENT_CHANNEL)
  if (!hasAgent) devices.children.push(element('channel', { type: 'unix' }, [element('target', { type: 'virtio', name: AGENT_CHANNEL })]))
  const arch = child(child(root, 'os'), 'type')?.attrs.arch ?? 'x86_64'
  if (childElements(devices, 'video').length === 0 && /^(x86_64|i686)$/.test(arch)) devices.children.push(element('video', {}, [element('model', { type: 'vga' })]))
  for (const [event, action] of [['on_poweroff', 'destroy'], ['on_crash', 'destroy']] as const) {
    const el = child(root, event)
    if (el) el.children = [action]
    else root.children.push(element(event, {}, [action]))
  }
  removeChildren(root, 'description')
  root.children.push(element('description', {}, [`Temporary VM of a Lifeboat health check (job ${jobId}); removed when the check ends.`]))
  return { removedInterfaces }
}
