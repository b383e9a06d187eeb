import type { SVGProps } from 'react'

type IconProps = SVGProps<SVGSVGElement> & { readonly size?: number }

function base({ size = 16, ...rest }: IconProps, children: React.ReactNode) {
  return (
    <svg width={size} height={size} viewBox="0 0 24 24" fill="none" stroke="currentColor" strokeWidth={1.8} strokeLinecap="round" strokeLinejoin="round" aria-hidden="true" focusable="false" {...rest}>
      {children}
    </svg>
  )
}

export const IconServer = (p: IconProps) =>
  base(p, <><rect x="3" y="4" width="18" height="7" rx="1.5" /><rect x="3" y="13" width="18" height="7" rx="1.5" /><path d="M7 7.5h.01M7 16.5h.01" /></>)
export const IconPool = (p: IconProps) =>
  base(p, <><rect x="2" y="5" width="9" height="6" rx="1.2" /><rect x="13" y="5" width="9" height="6" rx="1.2" /><rect x="7.5" y="14" width="9" height="6" rx="1.2" /><path d="M6.5 11v1.5h11V11M12 12.5V14" /></>)
export const IconWindows = (p: IconProps) => base(p, <><path d="M3 5.5l7.5-1v7H3zM12.5 4.2L21 3v8.5h-8.5zM3 12.5h7.5v7L3 18.5zM12.5 12.5H21V21l-8.5-1.2z" /></>)
export const IconVm = (p: IconProps) => base(p, <><rect x="3" y="4" width="18" height="12" rx="1.5" /><path d="M8 20h8M12 16v4" /></>)
export const IconChevron = (p: IconProps) => base(p, <path d="M9 6l6 6-6 6" />)
export const IconPlus = (p: IconProps) => base(p, <path d="M12 5v14M5 12h14" />)
export const IconJobs = (p: IconProps) => base(p, <><path d="M4 6h16M4 12h10M4 18h7" /><circle cx="18" cy="16" r="3" /></>)
export const IconSun = (p: IconProps) =>
  base(p, <><circle cx="12" cy="12" r="4" /><path d="M12 2v2M12 20v2M4.9 4.9l1.4 1.4M17.7 17.7l1.4 1.4M2 12h2M20 12h2M4.9 19.1l1.4-1.4M17.7 6.3l1.4-1.4" /></>)
export const IconMoon = (p: IconProps) => base(p, <path d="M20 14.5A8 8 0 1 1 9.5 4a6.5 6.5 0 0 0 10.5 10.5z" />)
export const IconMonitor = (p: IconProps) => base(p, <><rect x="3" y="4" width="18" height="12" rx="1.5" /><path d="M12 4v12" /></>)
export const IconClose = (p: IconProps) => base(p, <path d="M6 6l12 12M18 6L6 18" />)
export const IconShield = (p: IconProps) => base(p, <><path d="M12 3l8 3v6c0 4.5-3.4 8-8 9-4.6-1-8-4.5-8-9V6z" /><path d="M8.5 12l2.5 2.5 4.5-5" /></>)
export const IconWarning = (p: IconProps) => base(p, <><path d="M12 3.5L22 20.5H2z" /><path d="M12 10v4.5M12 17.5h.01" /></>)
export const IconCheck = (p: IconProps) => base(p, <path d="M5 12.5l4.5 4.5L19 7.5" />)
export const IconRefresh = (p: IconProps) => base(p, <><path d="M20 11a8 8 0 0 0-14.3-4.9L4 8" /><path d="M4 4v4h4" /><path d="M4 13a8 8 0 0 0 14.3 4.9L20 16" /><path d="M20 20v-4h-4" /></>)
export const IconPlug = (p: IconProps) => base(p, <><path d="M9 3v5M15 3v5M6 8h12v3a6 6 0 0 1-12 0zM12 17v4" /></>)
export const IconTrash = (p: IconProps) => base(p, <><path d="M4 7h16M10 11v6M14 11v6M6 7l1 13h10l1-13M9 7V4h6v3" /></>)
export const IconDisk = (p: IconProps) => base(p, <><ellipse cx="12" cy="6" rx="8" ry="3" /><path d="M4 6v12c0 1.7 3.6 3 8 3s8-1.3 8-3V6" /></>)
export const IconKey = (p: IconProps) => base(p, <><circle cx="8" cy="15" r="4" /><path d="M11 12l9-9M16 7l3 3M14 9l2 2" /></>)
export const IconFolder = (p: IconProps) => base(p, <path d="M3 6.5A1.5 1.5 0 0 1 4.5 5H9l2 2h8.5A1.5 1.5 0 0 1 21 8.5v9a1.5 1.5 0 0 1-1.5 1.5h-15A1.5 1.5 0 0 1 3 17.5z" />)
export const IconFile = (p: IconProps) => base(p, <><path d="M6 3h8l4 4v14H6z" /><path d="M14 3v4h4" /></>)
export const IconLink = (p: IconProps) => base(p, <><path d="M10 14a4 4 0 0 0 5.7 0l3-3a4 4 0 0 0-5.7-5.7l-1 1" /><path d="M14 10a4 4 0 0 0-5.7 0l-3 3a4 4 0 0 0 5.7 5.7l1-1" /></>)
export const IconSearch = (p: IconProps) => base(p, <><circle cx="11" cy="11" r="6.5" /><path d="M20 20l-4.2-4.2" /></>)
export const IconDownload = (p: IconProps) => base(p, <><path d="M12 4v11M7.5 10.5L12 15l4.5-4.5" /><path d="M5 19h14" /></>)
export const IconHome = (p: IconProps) => base(p, <><path d="M4 11l8-7 8 7" /><path d="M6 9.5V20h12V9.5" /></>)
export const IconCalendar = (p: IconProps) => base(p, <><rect x="4" y="5" width="16" height="15" rx="1.5" /><path d="M4 10h16M9 3v4M15 3v4" /></>)
export const IconSettings = (p: IconProps) => base(p, <><circle cx="12" cy="12" r="3" /><path d="M12 2.5v3M12 18.5v3M2.5 12h3M18.5 12h3M5.3 5.3l2.1 2.1M16.6 16.6l2.1 2.1M5.3 18.7l2.1-2.1M16.6 7.4l2.1-2.1" /></>)
export const IconCamera = (p: IconProps) => base(p, <><path d="M4 8h3l2-2.5h6L17 8h3v11H4z" /><circle cx="12" cy="13" r="3.5" /></>)
export const IconBackup = (p: IconProps) => base(p, <><path d="M12 3v10M8 9l4 4 4-4" /><path d="M4 15v4h16v-4" /></>)
export const IconInfo = (p: IconProps) => base(p, <><circle cx="12" cy="12" r="9" /><path d="M12 11v5.5M12 7.5h.01" /></>)
