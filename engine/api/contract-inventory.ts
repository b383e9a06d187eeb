import { z } from 'zod'
import { defineChannel } from './contract-core'
import { ApiErrorSchema } from './contract-errors'
import { HostKindSchema } from './contract-hosts'

export const PowerStateSchema = z.enum(['running', 'halted', 'paused', 'suspended', 'unknown'])
export type PowerStateDto = z.infer<typeof PowerStateSchema>

export const VmDiskDtoSchema = z.object({
  id: z.string(),
  name: z.string(),
  location: z.string(),
  sizeBytes: z.number().optional(),
  format: z.string().optional(),
})

export const VmSnapshotDtoSchema = z.object({
  id: z.string(),
  name: z.string(),
  createdAt: z.string().optional(),
  lifeboat: z.boolean(),
  purpose: z.string().optional(),
})

export const VmDtoSchema = z.object({
  id: z.string(),
  name: z.string(),
  hostId: z.string(),
  /** The Lifeboat name of the host (connection) this VM was found on. */
  host: z.string(),
  powerState: PowerStateSchema,
  residentOn: z.string().optional(),
  cpus: z.number().optional(),
  memoryBytes: z.number().optional(),
  os: z.string().optional(),
  guestAgent: z.boolean().optional(),
  disks: z.array(VmDiskDtoSchema),
  snapshots: z.array(VmSnapshotDtoSchema),
})
export type VmDto = z.infer<typeof VmDtoSchema>

export const HostStatusSchema = z.enum(['connecting', 'online', 'error'])

export const HostInventoryDtoSchema = z.object({
  hostId: z.string(),
  /** Grows with every change of this host's entry (across restarts too), so clients keep the newest. */
  revision: z.number(),
  name: z.string(),
  kind: HostKindSchema,
  status: HostStatusSchema,
  error: ApiErrorSchema.optional(),
  hostname: z.string().optional(),
  updatedAt: z.string().optional(),
  physicalHosts: z.array(z.object({ id: z.string(), name: z.string() })),
  /** Where new disks can go (storage repositories, volumes), when the host says: for the restore target choice. */
  storage: z.array(z.object({ id: z.string(), name: z.string(), sizeBytes: z.number().optional(), freeBytes: z.number().optional() })).optional(),
  vms: z.array(VmDtoSchema),
})
export type HostInventoryDto = z.infer<typeof HostInventoryDtoSchema>

export const InventoryTreeSchema = z.object({ hosts: z.array(HostInventoryDtoSchema) })
export type InventoryTree = z.infer<typeof InventoryTreeSchema>

export const inventoryTree = defineChannel(
  'inventory.tree',
  z.object({}),
  InventoryTreeSchema,
  'The host → VM tree as last seen (live updates follow as inventory.changed events).',
)

export const inventoryRefresh = defineChannel(
  'inventory.refresh',
  z.object({ hostId: z.string().optional(), reconnect: z.boolean().default(false) }),
  InventoryTreeSchema,
  'Ask the hosts for their inventory now and return the fresh tree; with reconnect, verify key and credentials anew.',
)

export const vmsList = defineChannel(
  'vms.list',
  z.object({ host: z.string().min(1).max(200).optional() }),
  z.object({
    vms: z.array(VmDtoSchema),
    errors: z.array(z.object({ hostId: z.string(), host: z.string(), error: ApiErrorSchema })),
  }),
  'List the VMs of every host (or of one, by id or name), asking the hosts now.',
)
