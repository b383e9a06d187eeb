/** What a volume's first bytes say it holds. Only the ones with a reader can be browsed. */
export type VolumeContent = 'ext' | 'xfs' | 'ntfs' | 'fat' | 'lvm2-pv' | 'swap' | 'exfat' | 'btrfs' | 'luks' | 'unknown'
