import { z } from 'zod'
import { JobStartedSchema, RepoRefSchema } from './contract-repository'
import { defineChannel } from './contract-core'

/**
 * Serving a disk of a restore point as an NBD export, so any tool (qemu-img, qemu-nbd clients, guestfish, a VM)
 * can open it as a block device. A job that runs until it is cancelled; its progress phase is `serving` with the
 * export's URI as detail (nbd+unix:///NAME?socket=PATH or nbd://127.0.0.1:PORT/NAME) once clients can connect.
 */
export const pointsServe = defineChannel(
  'points.serve',
  RepoRefSchema.extend({
    pointId: z.string().min(1).max(200),
    disk: z.string().min(1).max(200),
    /** `unix:/absolute/path.sock` or `127.0.0.1:PORT` (port 0: any free one). Loopback only: NBD has no login. */
    address: z.string().min(1).max(200),
    /** Absolute path of a write overlay file (created when missing): writes go there; without one the export is read-only. */
    writableOverlay: z.string().min(1).max(4096).optional(),
  }),
  JobStartedSchema,
  'Serve one disk of a restore point over NBD until the job is cancelled (read-only, or writes into an overlay file).',
)
